// The `play-sound` hook's sounds, made with Web Audio: a few notes per name, so the
// bundle carries no audio files. Browsers only play after the user interacted with
// the page; before that a sound is skipped silently.

const TUNES: Record<string, number[]> = {
  done: [660, 880],
  chime: [784, 988, 1175],
  success: [523, 659, 784],
  error: [330, 262],
  attention: [880, 660, 880],
};

let context: AudioContext | null = null;

export function playSound(name: string) {
  const notes = TUNES[name] ?? TUNES.chime;
  try {
    context ??= new AudioContext();
    if (context.state === "suspended") void context.resume();
    const start = context.currentTime;
    notes.forEach((frequency, index) => {
      const oscillator = context!.createOscillator();
      const gain = context!.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      const at = start + index * 0.12;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.2);
      oscillator.connect(gain).connect(context!.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.22);
    });
  } catch {
    // No audio device or not allowed yet: the card still shows what happened.
  }
}
