// Syntax colours for the diff. highlight.js and its grammars are imported only when a
// diff opens (a chunk of their own), so the board's bundle does not carry them.
//
// A hunk is coloured one side at a time: the old side (context and deleted lines) and
// the new side (context and added lines) are each highlighted as one text, so a string
// or a comment that spans lines keeps its colour, then cut back into lines.

import type { HLJSApi, LanguageFn } from "highlight.js";
import type { DiffLine } from "../lib/api";

type Grammar = () => Promise<{ default: LanguageFn }>;

/** Grammars by name, and the file names and endings that choose them. */
const grammars: Record<string, Grammar> = {
  bash: () => import("highlight.js/lib/languages/bash"),
  c: () => import("highlight.js/lib/languages/c"),
  cpp: () => import("highlight.js/lib/languages/cpp"),
  csharp: () => import("highlight.js/lib/languages/csharp"),
  css: () => import("highlight.js/lib/languages/css"),
  diff: () => import("highlight.js/lib/languages/diff"),
  dockerfile: () => import("highlight.js/lib/languages/dockerfile"),
  go: () => import("highlight.js/lib/languages/go"),
  ini: () => import("highlight.js/lib/languages/ini"),
  java: () => import("highlight.js/lib/languages/java"),
  javascript: () => import("highlight.js/lib/languages/javascript"),
  json: () => import("highlight.js/lib/languages/json"),
  kotlin: () => import("highlight.js/lib/languages/kotlin"),
  makefile: () => import("highlight.js/lib/languages/makefile"),
  markdown: () => import("highlight.js/lib/languages/markdown"),
  php: () => import("highlight.js/lib/languages/php"),
  python: () => import("highlight.js/lib/languages/python"),
  ruby: () => import("highlight.js/lib/languages/ruby"),
  rust: () => import("highlight.js/lib/languages/rust"),
  scss: () => import("highlight.js/lib/languages/scss"),
  sql: () => import("highlight.js/lib/languages/sql"),
  swift: () => import("highlight.js/lib/languages/swift"),
  typescript: () => import("highlight.js/lib/languages/typescript"),
  xml: () => import("highlight.js/lib/languages/xml"),
  yaml: () => import("highlight.js/lib/languages/yaml"),
};

const byEnding: Record<string, string> = {
  sh: "bash", bash: "bash", zsh: "bash",
  c: "c", h: "c",
  cc: "cpp", cpp: "cpp", cxx: "cpp", hpp: "cpp", hh: "cpp",
  cs: "csharp",
  css: "css",
  diff: "diff", patch: "diff",
  go: "go",
  ini: "ini", toml: "ini", cfg: "ini", conf: "ini",
  java: "java",
  js: "javascript", jsx: "javascript", mjs: "javascript", cjs: "javascript",
  json: "json",
  kt: "kotlin", kts: "kotlin",
  md: "markdown", markdown: "markdown",
  php: "php",
  py: "python", pyi: "python",
  rb: "ruby",
  rs: "rust",
  scss: "scss",
  sql: "sql",
  swift: "swift",
  ts: "typescript", tsx: "typescript", mts: "typescript", cts: "typescript",
  html: "xml", htm: "xml", xml: "xml", svg: "xml", svelte: "xml", vue: "xml",
  yml: "yaml", yaml: "yaml",
};

const byName: Record<string, string> = {
  Dockerfile: "dockerfile",
  Makefile: "makefile",
  "Cargo.lock": "ini",
};

/** The grammar for a path, if viban colours that kind of file. */
export function languageOf(path: string): string | null {
  const name = path.slice(path.lastIndexOf("/") + 1);
  if (byName[name]) return byName[name];
  const dot = name.lastIndexOf(".");
  return dot > 0 ? (byEnding[name.slice(dot + 1).toLowerCase()] ?? null) : null;
}

let core: Promise<HLJSApi> | null = null;
const registered = new Map<string, Promise<boolean>>();

async function ready(language: string): Promise<HLJSApi | null> {
  core ??= import("highlight.js/lib/core").then((module) => module.default);
  const hljs = await core;
  let loaded = registered.get(language);
  if (!loaded) {
    loaded = grammars[language]()
      .then((module) => (hljs.registerLanguage(language, module.default), true))
      .catch(() => false);
    registered.set(language, loaded);
  }
  return (await loaded) ? hljs : null;
}

/** Lines longer than this, or hunks with more lines, stay plain: colouring them costs more than it helps. */
const LONGEST_LINE = 1_000;
const MOST_LINES = 5_000;

/**
 * The coloured HTML of each line of the hunks (escaped by highlight.js: only its own
 * `<span class="hljs-…">` markup), or null when the file's language is not known.
 */
export async function highlight(path: string, hunks: { lines: DiffLine[] }[]): Promise<Map<DiffLine, string> | null> {
  const language = languageOf(path);
  if (!language) return null;
  const all = hunks.flatMap((hunk) => hunk.lines);
  if (all.length > MOST_LINES || all.some((line) => line.text.length > LONGEST_LINE)) return null;
  const hljs = await ready(language);
  if (!hljs) return null;
  const html = new Map<DiffLine, string>();
  for (const hunk of hunks) {
    for (const side of ["old", "new"] as const) {
      const lines = hunk.lines.filter((line) => line.kind === "context" || line.kind === (side === "old" ? "del" : "add"));
      if (lines.length === 0) continue;
      const coloured = hljs.highlight(lines.map((line) => line.text).join("\n"), { language, ignoreIllegals: true }).value;
      const cut = cutLines(coloured);
      // A context line is on both sides: the new side's colours win, which is the file as it is now.
      lines.forEach((line, index) => html.set(line, cut[index] ?? ""));
    }
  }
  return html;
}

/**
 * Cuts highlight.js's HTML at its newlines into one well-formed piece per line: a span
 * open at the end of a line is closed there and opened again on the next.
 */
export function cutLines(html: string): string[] {
  const lines: string[] = [];
  const open: string[] = [];
  let current = "";
  const tag = /<span[^>]*>|<\/span>|\n/g;
  let last = 0;
  for (let match = tag.exec(html); match; match = tag.exec(html)) {
    current += html.slice(last, match.index);
    last = tag.lastIndex;
    const token = match[0];
    if (token === "\n") {
      lines.push(current + "</span>".repeat(open.length));
      current = open.join("");
    } else if (token === "</span>") {
      open.pop();
      current += token;
    } else {
      open.push(token);
      current += token;
    }
  }
  lines.push(current + html.slice(last));
  return lines;
}
