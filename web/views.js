// Pictures of a stem: its waveform (min/max per pixel column) and a log-magnitude spectrogram.
import { makeFft } from "./lightsep.js";

/** The waveform of Float32Array[] channels (their mean) across the canvas, `peak` at full height. */
export function drawWaveform(canvas, channels, peak = 1) {
  const g = canvas.getContext("2d");
  const { width, height } = canvas;
  g.clearRect(0, 0, width, height);
  g.fillStyle = "#2b6cb0";
  const length = channels[0].length;
  const per = Math.max(1, Math.floor(length / width));
  for (let x = 0; x < width; x++) {
    const from = Math.floor((x * length) / width);
    let lo = 0;
    let hi = 0;
    for (let i = from; i < Math.min(length, from + per); i++) {
      let v = 0;
      for (const c of channels) v += c[i];
      v /= channels.length * peak;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const top = ((1 - Math.min(1, hi)) * height) / 2;
    const bottom = ((1 - Math.max(-1, lo)) * height) / 2;
    g.fillRect(x, top, 1, Math.max(1, bottom - top));
  }
}

/** A spectrogram of the channels' mean: one 2048-point Hann-windowed frame per pixel column, 0 Hz at the bottom, up to 11 kHz, 80 dB of range. */
export function drawSpectrogram(canvas, channels, sampleRate) {
  const g = canvas.getContext("2d");
  const { width, height } = canvas;
  const size = 2048;
  const length = channels[0].length;
  const image = g.createImageData(width, height);
  const top = Math.min(size / 2, Math.floor((11025 / (sampleRate / 2)) * (size / 2)));
  const fft = makeFft(size);
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  for (let x = 0; x < width; x++) {
    const from = Math.floor((x * Math.max(0, length - size)) / Math.max(1, width - 1));
    for (let i = 0; i < size; i++) {
      let v = 0;
      for (const c of channels) v += c[from + i] || 0;
      re[i] = (v / channels.length) * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size));
      im[i] = 0;
    }
    fft(re, im);
    for (let y = 0; y < height; y++) {
      const bin = Math.floor(((height - 1 - y) / height) * top);
      const db = 10 * Math.log10(re[bin] ** 2 + im[bin] ** 2 + 1e-12);
      const level = Math.max(0, Math.min(1, (db + 40) / 80)); // -40 .. +40 dB around a full-scale frame's energy
      const p = 4 * (y * width + x);
      image.data[p] = 255 * Math.min(1, 2 * level);
      image.data[p + 1] = 255 * Math.max(0, 2 * level - 1);
      image.data[p + 2] = 255 * Math.max(0, 0.6 - level);
      image.data[p + 3] = 255;
    }
  }
  g.putImageData(image, 0, 0);
}
