// lightsep's separation pipeline in the browser: the same overlap-add, crossfade, silence
// gate and difference stem as the Python Separator (src/lightsep/apply.py, separator.py,
// gate.py). No DOM here: the worker and the page both import it.

/** The crossfade window of apply.crossfade_window: linear ramps of length - hop samples. */
export function crossfadeWindow(length, hop) {
  const window = new Float64Array(length);
  const ramp = length - hop;
  for (let i = 0; i < length; i++) {
    window[i] = ramp <= 0 ? 1 : Math.min(1, (i + 0.5) / ramp, (length - i - 0.5) / ramp);
  }
  return window;
}

/**
 * Overlap-add of a model over a signal at the model's rate, as apply.OverlapAdd does offline:
 * segment k outputs samples [k*hop, k*hop + output) and reads [k*hop - offset, ... + context),
 * zeros outside the signal; outputs are weighted by the crossfade window, summed, and divided
 * by the summed weights. A mono model (meta.audio_channels 1) runs on every channel as a
 * segment of its own; a multichannel model sees all the signal's channels (as many as it
 * has: convertChannels first) in one segment.
 *
 * channels: Float32Array[] (one per channel, equal lengths).
 * runModel(batch: Float32Array, n) -> Promise<Float32Array>: n rows of (channels per row,
 *   context) samples in, (n, sources, channels per row, output) out; the batch holds
 *   (segments, signal channels, context) samples in both cases.
 * Returns estimates[source][channel] (Float32Array) for the directly estimated sources.
 */
export async function overlapAdd(channels, meta, runModel, onProgress = () => {}) {
  const { context_samples: context, output_samples: output, output_offset: offset, hop } = meta;
  const sources = meta.sources.length;
  const direct = meta.direct_sources;
  const length = channels[0].length;
  const count = length ? Math.ceil(length / hop) : 0;
  const window = crossfadeWindow(output, hop);
  const sums = direct.map(() => channels.map(() => new Float64Array(length)));
  const weight = new Float64Array(length);
  for (let k = 0; k < count; k++) {
    const start = k * hop;
    for (let i = 0; i < output && start + i < length; i++) weight[start + i] += window[i];
  }
  const perCall = Math.max(1, meta.segments_per_call);
  for (let first = 0; first < count; first += perCall) {
    const group = Math.min(perCall, count - first);
    const joint = (meta.audio_channels || 1) > 1; // one row per segment, else one per segment and channel
    const n = joint ? group : group * channels.length;
    const batch = new Float32Array(group * channels.length * context);
    for (let g = 0; g < group; g++) {
      const begin = (first + g) * hop - offset;
      const lo = Math.max(0, begin);
      const hi = Math.min(length, begin + context);
      channels.forEach((signal, c) => {
        if (hi > lo) batch.set(signal.subarray(lo, hi), (g * channels.length + c) * context + (lo - begin));
      });
    }
    const out = await runModel(batch, n);
    for (let g = 0; g < group; g++) {
      const start = (first + g) * hop;
      const end = Math.min(output, length - start);
      for (let c = 0; c < channels.length; c++) {
        const row = g * channels.length + c;
        direct.forEach((source, d) => {
          const base = joint ? ((g * sources + source) * channels.length + c) * output : (row * sources + source) * output;
          const sum = sums[d][c];
          for (let i = 0; i < end; i++) sum[start + i] += out[base + i] * window[i];
        });
      }
    }
    onProgress(Math.min(1, (first + group) / count));
  }
  return sums.map((perChannel) =>
    perChannel.map((sum) => {
      const estimate = new Float32Array(length);
      for (let i = 0; i < length; i++) estimate[i] = sum[i] / weight[i];
      return estimate;
    }),
  );
}

/**
 * audio.convert_channels: to mono by averaging (in float64, as numpy), from mono by copying,
 * otherwise the first `count` channels (or the channels repeated).
 */
export function convertChannels(channels, count) {
  if (channels.length === count) return channels;
  if (count === 1) {
    const length = channels[0].length;
    const mean = new Float32Array(length);
    for (let i = 0; i < length; i++) {
      let sum = 0;
      for (const signal of channels) sum += signal[i];
      mean[i] = sum / channels.length;
    }
    return [mean];
  }
  return Array.from({ length: count }, (_, c) => Float32Array.from(channels[c % channels.length]));
}

/**
 * gate.SilenceGate: per-sample gains in [0, 1] for consecutive blocks of an input, from its
 * peak level over a 5 ms window, 0 at or below floorDb, 1 at or above openDb, linear in dB
 * between, in steps of 1/1024, then averaged over the same window (the same integers as
 * Python, however the input is cut into blocks). gains(channels) -> Float32Array.
 */
export class SilenceGate {
  constructor(sampleRate, floorDb, openDb) {
    this.window = Math.max(1, Math.round(0.005 * sampleRate));
    this.floorDb = floorDb;
    this.openDb = openDb;
    this.peaks = new Float32Array(this.window - 1); // the last window - 1 input peaks (silence before the start)
    this.levels = new Int32Array(this.window - 1); // the last window - 1 unsmoothed gains, in steps
  }

  gains(channels) {
    const STEPS = 1024;
    const { window } = this;
    const n = channels[0].length;
    const history = window - 1;
    const total = history + n;
    const peaks = new Float32Array(total);
    peaks.set(this.peaks);
    for (const signal of channels) {
      for (let i = 0; i < n; i++) peaks[history + i] = Math.max(peaks[history + i], Math.abs(signal[i]));
    }
    const levels = new Int32Array(total);
    levels.set(this.levels);
    // the peak over each sample's last window: a monotonic deque over [history, new samples]
    const deque = new Int32Array(total);
    let head = 0;
    let tail = 0;
    for (let i = 0; i < total; i++) {
      while (tail > head && peaks[deque[tail - 1]] <= peaks[i]) tail--;
      deque[tail++] = i;
      if (deque[head] <= i - window) head++;
      if (i < history) continue;
      const envelope = peaks[deque[head]];
      const levelDb = envelope > 0 ? 20 * Math.log10(envelope) : -Infinity;
      const fraction = Math.min(1, Math.max(0, (levelDb - this.floorDb) / (this.openDb - this.floorDb)));
      levels[i] = roundHalfEven(fraction * STEPS);
    }
    const gains = new Float32Array(n);
    let running = 0;
    for (let i = 0; i < history; i++) running += levels[i];
    for (let i = history; i < total; i++) {
      running += levels[i] - (i >= window ? levels[i - window] : 0);
      gains[i - history] = running / (STEPS * window);
    }
    this.peaks = peaks.slice(total - history);
    this.levels = levels.slice(total - history);
    return gains;
  }
}

/** SilenceGate on a whole signal. */
export function silenceGate(channels, sampleRate, floorDb, openDb) {
  return new SilenceGate(sampleRate, floorDb, openDb).gains(channels);
}

function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The stems at the input's rate, as SeparationStream._out makes them: the direct estimates
 * (already resampled to the input's rate and length) times the silence gate, and the
 * difference stem as the input minus them, so the stems sum to the input exactly. A stream
 * passes its own `gate` (a SilenceGate, or null for a model without one) for each block;
 * a whole signal gets a new one. Returns {name: Float32Array[]}.
 */
export function assembleStems(mixture, directEstimates, meta, sampleRate, gate = undefined) {
  if (gate === undefined) gate = meta.silence_floor_db === null ? null : new SilenceGate(sampleRate, meta.silence_floor_db, meta.silence_open_db);
  const gains = gate ? gate.gains(mixture) : null;
  const stems = {};
  meta.direct_sources.forEach((source, d) => {
    stems[meta.sources[source]] = directEstimates[d].map((estimate) => {
      if (gains) for (let i = 0; i < estimate.length; i++) estimate[i] *= gains[i];
      return estimate;
    });
  });
  if (meta.difference_source !== null) {
    stems[meta.difference_source] = mixture.map((signal, c) => {
      const others = new Float32Array(signal.length); // summed first, in float32, as numpy does
      for (const estimates of directEstimates) {
        const estimate = estimates[c];
        for (let i = 0; i < others.length; i++) others[i] += estimate[i];
      }
      for (let i = 0; i < others.length; i++) others[i] = signal[i] - others[i];
      return others;
    });
  }
  const ordered = {};
  for (const name of meta.sources) ordered[name] = stems[name];
  return ordered;
}

/** A 32-bit float WAV file of `channels` (Float32Array[]) at `sampleRate`. */
export function encodeWav(channels, sampleRate) {
  const frames = channels[0].length;
  const blockAlign = 4 * channels.length;
  const buffer = new ArrayBuffer(44 + frames * blockAlign);
  const view = new DataView(buffer);
  const text = (offset, s) => [...s].forEach((ch, i) => view.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + frames * blockAlign, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 3, true); // IEEE float
  view.setUint16(22, channels.length, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, 32, true);
  text(36, "data");
  view.setUint32(40, frames * blockAlign, true);
  const samples = new Float32Array(buffer, 44);
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels.length; c++) samples[i * channels.length + c] = channels[c][i];
  }
  return buffer;
}

/** The first index of the ASCII `pattern` in `bytes` at or after `from`, or -1. */
function find(bytes, pattern, from) {
  const codes = [...pattern].map((c) => c.charCodeAt(0));
  outer: for (let i = from; i + codes.length <= bytes.length; i++) {
    for (let j = 0; j < codes.length; j++) if (bytes[i + j] !== codes[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The sample rate a file's header states (WAV, FLAC, MP3, Ogg Vorbis or Opus, MP4/M4A), or null: the
 * browser decodes to a rate of its choosing, so the stems' rate comes from the file itself.
 */
export function sniffSampleRate(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ascii = (offset, n) => String.fromCharCode(...bytes.subarray(offset, offset + n));
  if (bytes.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 4) === "WAVE") {
    for (let offset = 12; offset + 8 <= bytes.length; ) {
      const size = view.getUint32(offset + 4, true);
      if (ascii(offset, 4) === "fmt " && offset + 16 <= bytes.length) return view.getUint32(offset + 12, true);
      offset += 8 + size + (size % 2);
    }
    return null;
  }
  if (bytes.length >= 21 && ascii(0, 4) === "fLaC") {
    return (bytes[18] << 12) | (bytes[19] << 4) | (bytes[20] >> 4);
  }
  if (bytes.length >= 4 && ascii(0, 4) === "OggS") {
    const head = ascii(0, Math.min(bytes.length, 200));
    if (head.includes("OpusHead")) return 48000;
    const vorbis = head.indexOf("\x01vorbis");
    if (vorbis >= 0 && vorbis + 16 <= bytes.length) return view.getUint32(vorbis + 12, true);
    return null;
  }
  if (bytes.length >= 8 && ascii(4, 4) === "ftyp") {
    // MP4 / M4A: the timescale of the sound track's media header (its sample rate for AAC and ALAC)
    for (let at = find(bytes, "mdhd", 4); at >= 4; at = find(bytes, "mdhd", at + 4)) {
      const version = bytes[at + 4];
      const timescale = at + (version === 1 ? 24 : 16);
      const handler = at - 4 + view.getUint32(at - 4); // the next box: mdia's hdlr
      if (timescale + 4 <= bytes.length && handler + 20 <= bytes.length && ascii(handler + 4, 4) === "hdlr" && ascii(handler + 16, 4) === "soun") {
        return view.getUint32(timescale);
      }
    }
    return null;
  }
  let offset = 0;
  if (bytes.length >= 10 && ascii(0, 3) === "ID3") {
    offset = 10 + ((bytes[6] << 21) | (bytes[7] << 14) | (bytes[8] << 7) | bytes[9]);
  }
  for (const end = Math.min(bytes.length - 4, offset + 65536); offset < end; offset++) {
    if (bytes[offset] === 0xff && (bytes[offset + 1] & 0xe0) === 0xe0) {
      const version = (bytes[offset + 1] >> 3) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
      const layer = (bytes[offset + 1] >> 1) & 3;
      const index = (bytes[offset + 2] >> 2) & 3;
      if (version === 1 || layer === 0 || index === 3) continue;
      const base = [44100, 48000, 32000][index];
      return version === 3 ? base : version === 2 ? base / 2 : base / 4;
    }
  }
  return null;
}

// -- resampling ------------------------------------------------------------------------------

function besselI0(x) {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function gcd(a, b) {
  return b ? gcd(b, a % b) : a;
}

/**
 * Resample Float32Array[] channels from `fromRate` to `toRate` with a linear-phase
 * Kaiser-windowed sinc: passband to 91.3% of the lower rate's Nyquist frequency, stopband
 * from 100%, 120 dB down; the band soxr's HQ (the Python Separator's default) keeps.
 * Output sample n is at input time n * fromRate / toRate; zeros before and after the
 * signal; round(length * toRate / fromRate) samples, as soxr gives.
 */
export function resample(channels, fromRate, toRate) {
  if (fromRate === toRate) return channels.map((c) => Float32Array.from(c));
  const divisor = gcd(fromRate, toRate);
  const up = toRate / divisor; // phases
  const down = fromRate / divisor;
  const nyquist = Math.min(fromRate, toRate) / 2;
  const passband = 0.913 * nyquist;
  const cutoff = (passband + nyquist) / 2;
  const attenuation = 120;
  const beta = 0.1102 * (attenuation - 8.7);
  const higher = Math.max(fromRate, toRate);
  const taps = Math.ceil((attenuation - 8) / (2.285 * ((2 * Math.PI * (nyquist - passband)) / higher)));
  const half = ((taps / 2) * fromRate) / higher; // the kernel's half width, in input samples
  const reach = Math.ceil(half);
  const scale = (2 * cutoff) / fromRate; // the ideal low-pass: scale * sinc(scale * t), t in input samples
  const width = 2 * reach;
  const table = new Float64Array(up * width);
  const norm = besselI0(beta);
  for (let phase = 0; phase < up; phase++) {
    const frac = phase / up;
    for (let j = 0; j < width; j++) {
      const t = frac - (j - reach + 1); // input sample floor(p) + j - reach + 1, at distance t
      const x = scale * t;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const r = t / half;
      table[phase * width + j] = Math.abs(r) >= 1 ? 0 : (scale * sinc * besselI0(beta * Math.sqrt(1 - r * r))) / norm;
    }
  }
  return channels.map((signal) => {
    const length = signal.length;
    const count = Math.floor((length * toRate) / fromRate + 0.5);
    const out = new Float32Array(count);
    for (let n = 0; n < count; n++) {
      const position = n * down; // in input samples times `up`
      const whole = Math.floor(position / up);
      const phase = position - whole * up;
      const first = whole - reach + 1;
      const base = phase * width;
      let sum = 0;
      const lo = Math.max(0, -first);
      const hi = Math.min(width, length - first);
      for (let j = lo; j < hi; j++) sum += signal[first + j] * table[base + j];
      out[n] = sum;
    }
    return out;
  });
}

// -- frame by frame: a causal spectrogram-mask model (lightsep/frames.py) ------------------

/**
 * An in-place complex FFT of size n (a power of two), with its tables made once:
 * makeFft(n)(re, im) transforms Float64Array re, im of length n.
 */
export function makeFft(n) {
  if (n < 2 || n & (n - 1)) throw new Error(`FFT size ${n} is not a power of two`);
  const reverse = new Uint32Array(n);
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    reverse[i] = j;
  }
  const cos = new Float64Array(n / 2);
  const sin = new Float64Array(n / 2);
  for (let k = 0; k < n / 2; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / n);
    sin[k] = -Math.sin((2 * Math.PI * k) / n);
  }
  return (re, im) => {
    for (let i = 1; i < n; i++) {
      const j = reverse[i];
      if (i < j) {
        let t = re[i];
        re[i] = re[j];
        re[j] = t;
        t = im[i];
        im[i] = im[j];
        im[j] = t;
      }
    }
    for (let size = 2; size <= n; size <<= 1) {
      const half = size >> 1;
      const step = n / size;
      for (let start = 0; start < n; start += size) {
        for (let k = 0; k < half; k++) {
          const wr = cos[k * step];
          const wi = sin[k * step];
          const a = start + k;
          const b = a + half;
          const tr = re[b] * wr - im[b] * wi;
          const ti = re[b] * wi + im[b] * wr;
          re[b] = re[a] - tr;
          im[b] = im[a] - ti;
          re[a] += tr;
          im[a] += ti;
        }
      }
    }
  };
}

/** The periodic Hann window (torch.hann_window). */
export function hannWindow(n) {
  return Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
}

/**
 * models.spectral.low_delay_windows: a long analysis window whose last taper = synthesis - hop
 * samples fall as a quarter cosine, and a synthesis window over the frame's last `synthesis`
 * samples whose product with it, copied hop apart, sums to one. Returns [analysis, synthesis].
 */
export function lowDelayWindows(n, hop, synthesis) {
  if (!(hop < synthesis && synthesis <= Math.min(2 * hop, n - hop))) throw new Error(`synthesis length ${synthesis} does not suit hop ${hop} and n ${n}`);
  const taper = synthesis - hop;
  const rise = n - taper;
  const analysis = new Float64Array(n);
  for (let i = 0; i < rise; i++) analysis[i] = Math.sin((0.5 * Math.PI * (i + 0.5)) / rise) ** 2;
  for (let i = 0; i < taper; i++) analysis[rise + i] = Math.cos((0.5 * Math.PI * (i + 0.5)) / taper);
  const out = new Float64Array(n);
  for (let i = 0; i < synthesis; i++) {
    let product = 1;
    if (i < taper) product = Math.sin((0.5 * Math.PI * (i + 0.5)) / taper) ** 2;
    else if (i >= synthesis - taper) product = Math.cos((0.5 * Math.PI * (i - (synthesis - taper) + 0.5)) / taper) ** 2;
    out[n - synthesis + i] = product / analysis[n - synthesis + i];
  }
  return [analysis, out];
}

const MAX_FRAMES_PER_CALL = 256; // frames.MAX_FRAMES_PER_CALL

/**
 * frames.FrameEngine: a causal spectrogram-mask model run frame by frame, its recurrent state
 * carried from call to call, for a signal that arrives in blocks of any size (a live input)
 * or all at once (a file). Frame j covers samples [j*hop - lead, j*hop - lead + n_fft) (zeros
 * outside the signal), weighted by the analysis window; its magnitudes go through the model's
 * frame step, the masked spectra are inverse-transformed, weighted by the synthesis window and
 * overlap-added, divided by the summed products of the two windows. Hann frames: both windows
 * Hann, lead n_fft/2, a sample final n_fft - 1 samples after it arrived. Low-delay frames
 * (meta.synthesis_samples): lowDelayWindows, lead n_fft - hop, final synthesis_samples - 1
 * samples after.
 *
 * meta: the model's index entry (n_fft, hop, audio_channels, sources, direct_sources, state_shape,
 *   synthesis_samples: 0 or absent for Hann frames).
 * runStep(magnitude: Float32Array (channels, bins, frames), frames, state: Float32Array)
 *   -> Promise<{masks: Float32Array (direct sources, channels, bins, frames), state: Float32Array}>.
 * push(channels) and flush() resolve to the direct sources' samples now final:
 * estimates[direct source][channel] (Float32Array), all of one length.
 */
export class FrameEngine {
  constructor(meta, runStep) {
    this.nFft = meta.n_fft;
    this.hop = meta.hop;
    this.half = this.nFft / 2;
    this.bins = this.half + 1;
    this.synthesisSamples = meta.synthesis_samples || this.nFft;
    this.lead = meta.synthesis_samples ? this.nFft - this.hop : this.half; // frame j starts at j*hop - lead
    this.channels = meta.audio_channels;
    this.direct = meta.direct_sources.length;
    this.runStep = runStep;
    const hann = meta.synthesis_samples ? null : hannWindow(this.nFft);
    [this.window, this.synthesis] = hann ? [hann, hann] : lowDelayWindows(this.nFft, this.hop, meta.synthesis_samples);
    this.fft = makeFft(this.nFft);
    this.state = new Float32Array(meta.state_shape.reduce((a, b) => a * b, 1));
    this.input = Array.from({ length: this.channels }, () => new Float32Array(0)); // samples [inputStart, ...)
    this.inputStart = 0;
    this.received = 0;
    this.nextFrame = 0;
    this.sums = Array.from({ length: this.direct }, () => Array.from({ length: this.channels }, () => new Float64Array(0)));
    this.envelope = new Float64Array(0); // accumulators cover samples [emitted, ...)
    this.emitted = 0;
    this.finished = false;
  }

  get latency() {
    return this.synthesisSamples - 1;
  }

  async push(block) {
    const n = block[0].length;
    this.input = this.input.map((kept, c) => {
      const grown = new Float32Array(kept.length + n);
      grown.set(kept);
      grown.set(block[c], kept.length);
      return grown;
    });
    this.received += n;
    const reach = this.nFft - this.lead; // frame j is complete once j*hop + reach samples are in
    const ready = this.received >= reach ? Math.floor((this.received - reach) / this.hop) + 1 : 0;
    await this.frames(ready);
    return this.emit(this.nextFrame * this.hop + reach - this.synthesisSamples);
  }

  async flush() {
    if (this.finished) return this.emit(this.emitted);
    this.finished = true;
    if (this.received) await this.frames(Math.floor(this.received / this.hop) + 1);
    return this.emit(this.received);
  }

  async frames(until) {
    while (this.nextFrame < until) {
      const count = Math.min(until - this.nextFrame, MAX_FRAMES_PER_CALL);
      await this.compute(this.nextFrame, count);
      this.nextFrame += count;
      // keep what the next frame reads and what is not yet emitted
      const keepFrom = Math.min(this.nextFrame * this.hop - this.lead, this.emitted);
      const drop = Math.min(Math.max(0, keepFrom - this.inputStart), this.input[0].length);
      if (drop) {
        this.input = this.input.map((kept) => kept.slice(drop));
        this.inputStart += drop;
      }
    }
  }

  async compute(first, count) {
    const { nFft, half, lead, bins, channels, window, synthesis } = this;
    const magnitude = new Float32Array(channels * bins * count);
    const spectra = []; // [k][c] = {re, im}
    for (let k = 0; k < count; k++) {
      const start = (first + k) * this.hop - lead;
      spectra.push(this.input.map((signal, c) => {
        const re = new Float64Array(nFft);
        const im = new Float64Array(nFft);
        const lo = Math.max(start, this.inputStart);
        const hi = Math.min(start + nFft, this.inputStart + signal.length);
        for (let t = lo; t < hi; t++) re[t - start] = signal[t - this.inputStart] * window[t - start];
        this.fft(re, im);
        for (let f = 0; f < bins; f++) {
          const r = Math.fround(re[f]);
          const i = Math.fround(im[f]);
          magnitude[(c * bins + f) * count + k] = Math.sqrt(r * r + i * i + 1e-12);
        }
        return { re, im };
      }));
    }
    const { masks, state } = await this.runStep(magnitude, count, this.state);
    this.state = state;
    const end = (first + count - 1) * this.hop - lead + nFft;
    this.grow(end);
    const re = new Float64Array(nFft);
    const im = new Float64Array(nFft);
    for (let k = 0; k < count; k++) {
      const offset = (first + k) * this.hop - lead - this.emitted;
      // the first frames' padding before sample 0 is never output, nor is anything where the
      // synthesis window is zero (a low-delay frame's first n_fft - synthesis_samples samples)
      const lo = Math.max(-offset, nFft - this.synthesisSamples);
      for (let d = 0; d < this.direct; d++) {
        for (let c = 0; c < channels; c++) {
          // the masked half spectrum, made Hermitian; the inverse FFT as conj(FFT(conj(X))) / n
          const spectrum = spectra[k][c];
          for (let f = 0; f < bins; f++) {
            const mask = masks[((d * channels + c) * bins + f) * count + k];
            re[f] = mask * spectrum.re[f];
            im[f] = f === 0 || f === half ? 0 : -mask * spectrum.im[f];
          }
          for (let f = bins; f < nFft; f++) {
            re[f] = re[nFft - f];
            im[f] = -im[nFft - f];
          }
          this.fft(re, im);
          const sum = this.sums[d][c];
          for (let t = lo; t < nFft; t++) sum[offset + t] += (re[t] / nFft) * synthesis[t];
        }
      }
      for (let t = lo; t < nFft; t++) this.envelope[offset + t] += window[t] * synthesis[t];
    }
  }

  grow(end) {
    const length = end - this.emitted;
    if (length <= this.envelope.length) return;
    const widen = (old) => {
      const grown = new Float64Array(length);
      grown.set(old);
      return grown;
    };
    this.envelope = widen(this.envelope);
    this.sums = this.sums.map((perChannel) => perChannel.map(widen));
  }

  emit(until) {
    const n = Math.max(0, Math.min(until, this.received) - this.emitted);
    const out = this.sums.map((perChannel) =>
      perChannel.map((sum) => {
        const samples = new Float32Array(n);
        for (let i = 0; i < n; i++) samples[i] = sum[i] / (this.envelope[i] > 1e-11 ? this.envelope[i] : 1);
        return samples;
      }),
    );
    if (n) {
      this.sums = this.sums.map((perChannel) => perChannel.map((sum) => sum.slice(n)));
      this.envelope = this.envelope.slice(n);
      this.emitted += n;
    }
    return out;
  }
}
