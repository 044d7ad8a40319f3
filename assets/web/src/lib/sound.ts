// The `play-sound` hook's sounds: a few notes per name, written once as a small WAV
// (no audio files in the bundle) and played by an <audio> element, whose decoding and
// output stay off the main thread (an AudioContext's start-up blocked it for ~50 ms).
// Browsers only play after the user interacted with the page; before that a sound is
// skipped silently.

const TUNES: Record<string, number[]> = {
  done: [660, 880],
  chime: [784, 988, 1175],
  success: [523, 659, 784],
  error: [330, 262],
  attention: [880, 660, 880],
};

const RATE = 22_050;
const STEP = 0.12;
const NOTE = 0.2;
const made = new Map<string, string>();

/** 16-bit mono PCM of `notes`, one every STEP seconds, each fading out over NOTE. */
function wav(notes: number[]): string {
  const samples = new Int16Array(Math.ceil(RATE * ((notes.length - 1) * STEP + NOTE)));
  notes.forEach((frequency, index) => {
    const start = Math.floor(index * STEP * RATE);
    for (let n = 0; n < NOTE * RATE && start + n < samples.length; n++) {
      const t = n / RATE;
      const envelope = Math.min(1, t / 0.02) * Math.exp(-t * 16);
      samples[start + n] += Math.round(Math.sin(2 * Math.PI * frequency * t) * envelope * 0.25 * 32767);
    }
  });
  const buffer = new ArrayBuffer(44 + samples.byteLength);
  const view = new DataView(buffer);
  const text = (at: number, value: string) => [...value].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + samples.byteLength, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, RATE, true);
  view.setUint32(28, RATE * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, samples.byteLength, true);
  new Int16Array(buffer, 44).set(samples);
  return URL.createObjectURL(new Blob([buffer], { type: "audio/wav" }));
}

export function playSound(name: string) {
  const tune = TUNES[name] ? name : "chime";
  let url = made.get(tune);
  if (!url) {
    url = wav(TUNES[tune]);
    made.set(tune, url);
  }
  new Audio(url).play().catch(() => {
    // Not allowed yet (no interaction) or no audio device: the card still shows what happened.
  });
}
