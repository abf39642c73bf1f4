// The separation runs here, off the page's thread: the mixture (at its own rate) is resampled
// to the model's rate, the model runs on the overlap-add's batches of segments (or, for a
// model that runs frame by frame, frame after frame with its state carried) with ONNX
// Runtime Web (WASM, multi-threaded where the page is cross-origin isolated), the estimates
// are resampled back and the stems put together, as lightsep.Separator does.
//
// Live mode: the page's AudioWorklet (live-worklet.js) sends the input here in blocks as it
// arrives, on a MessagePort of its own; each block goes through a FrameEngine, the silence
// gate and the difference stem, and the stems go back on the same port.
import * as ort from "./ort/ort.wasm.min.mjs";
import { FrameEngine, SilenceGate, assembleStems, convertChannels, overlapAdd, resample } from "./lightsep.js";

ort.env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href;
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;

const sessions = new Map();

async function session(url) {
  if (!sessions.has(url)) {
    sessions.set(url, ort.InferenceSession.create(url, { executionProviders: ["wasm"], graphOptimizationLevel: "all" }));
  }
  try {
    return await sessions.get(url);
  } catch (error) {
    sessions.delete(url);
    throw error;
  }
}

/** FrameEngine's runStep on the ONNX export of a frame-streamed model (lightsep.frames.FrameStep). */
function frameStep(model, meta) {
  const bins = meta.n_fft / 2 + 1;
  return async (magnitude, frames, state) => {
    const result = await model.run({
      magnitude: new ort.Tensor("float32", magnitude, [1, meta.audio_channels, bins, frames]),
      state: new ort.Tensor("float32", state, meta.state_shape),
    });
    return { masks: result.masks.data, state: Float32Array.from(result.state_out.data) };
  };
}

/** The direct sources' estimates of a whole signal at the model's rate: estimates[d][c]. */
async function estimate(model, meta, atModelRate, progress) {
  if (meta.kind === "frames") {
    const engine = new FrameEngine(meta, frameStep(model, meta));
    const length = atModelRate[0].length;
    const piece = 16 * meta.n_fft;
    const parts = [];
    for (let at = 0; at < length; at += piece) {
      parts.push(await engine.push(atModelRate.map((c) => c.subarray(at, at + piece))));
      progress(Math.min(1, (at + piece) / length));
    }
    parts.push(await engine.flush());
    return parts[0].map((perChannel, d) =>
      perChannel.map((_, c) => {
        const out = new Float32Array(length);
        let at = 0;
        for (const part of parts) {
          out.set(part[d][c], at);
          at += part[d][c].length;
        }
        return out;
      }),
    );
  }
  const run = async (batch, n) => {
    const input = new ort.Tensor("float32", batch, [n, meta.audio_channels, meta.context_samples]);
    const result = await model.run({ [model.inputNames[0]]: input });
    const output = result[model.outputNames[0]];
    const values = output.data;
    output.dispose?.();
    return values;
  };
  return overlapAdd(atModelRate, meta, run, progress);
}

async function separate({ id, modelUrl, meta, mixture, rate }) {
  const progress = (fraction) => self.postMessage({ id, progress: fraction });
  const model = await session(modelUrl);
  const started = performance.now();
  // a mono model separates each channel; a multichannel one sees its own channel count
  const modelChannels = meta.audio_channels === 1 ? mixture.length : meta.audio_channels;
  const atModelRate = resample(convertChannels(mixture, modelChannels), rate, meta.sample_rate);
  progress(0.05);
  const estimates = await estimate(model, meta, atModelRate, (fraction) => progress(0.05 + 0.85 * fraction));
  const modelSeconds = (performance.now() - started) / 1000;
  const length = mixture[0].length;
  const direct = estimates.map((channels) =>
    convertChannels(resample(channels, meta.sample_rate, rate), mixture.length).map((signal) => {
      const out = new Float32Array(length); // cut or padded to the input's length
      out.set(signal.subarray(0, length));
      return out;
    }),
  );
  const stems = assembleStems(mixture, direct, meta, rate);
  return { stems, modelSeconds, threads: ort.env.wasm.numThreads };
}

// -- live ------------------------------------------------------------------------------------

let live = null;

/**
 * Start separating what arrives on `port` (blocks of the model's channels at its rate, from
 * live-worklet.js): each block is queued, and the queue is worked through in order; the stems
 * of each block's final samples go back on the port as {stems: Float32Array[] (sources x
 * channels, in that order)}.
 */
async function startLive({ modelUrl, meta, port }) {
  stopLive();
  const model = await session(modelUrl);
  const engine = new FrameEngine(meta, frameStep(model, meta));
  const gate = meta.silence_floor_db === null ? null : new SilenceGate(meta.sample_rate, meta.silence_floor_db, meta.silence_open_db);
  // a frame of silence first, so that the first real frame is not the slowest (as the Python stream's warm-up)
  await frameStep(model, meta)(new Float32Array(meta.audio_channels * (meta.n_fft / 2 + 1)), 1, new Float32Array(engine.state.length));
  const state = { port, engine, pending: [], queue: Promise.resolve(), busiestMs: 0, stopped: false };
  live = state;
  port.onmessage = ({ data }) => {
    if (state.stopped) return;
    state.pending.push(data.input);
    state.queue = state.queue.then(() => liveBlock(state, meta, gate, data.input)).catch((error) => {
      state.stopped = true;
      self.postMessage({ id: "live", error: String(error?.message || error) });
    });
  };
  return { latencySamples: engine.latency };
}

async function liveBlock(state, meta, gate, block) {
  if (state.stopped) return;
  const started = performance.now();
  const framesBefore = state.engine.nextFrame;
  const direct = await state.engine.push(block);
  const n = direct[0][0].length;
  if (state.engine.nextFrame > framesBefore) state.busiestMs = Math.max(state.busiestMs, performance.now() - started);
  if (!n) return;
  const mixture = takePending(state, n);
  const stems = assembleStems(mixture, direct, meta, meta.sample_rate, gate);
  const flat = Object.values(stems).flat();
  state.port.postMessage({ stems: flat }, flat.map((a) => a.buffer));
}

/** The first n samples of the input not yet matched by output (what the difference stem is taken from). */
function takePending(state, n) {
  const channels = state.pending[0].length;
  const out = Array.from({ length: channels }, () => new Float32Array(n));
  let at = 0;
  while (at < n) {
    const head = state.pending[0];
    const take = Math.min(n - at, head[0].length);
    head.forEach((signal, c) => out[c].set(signal.subarray(0, take), at));
    if (take === head[0].length) state.pending.shift();
    else state.pending[0] = head.map((signal) => signal.subarray(take));
    at += take;
  }
  return out;
}

function stopLive() {
  if (!live) return;
  live.stopped = true;
  live.port.onmessage = null;
  live.port.close();
  live = null;
}

function liveStats() {
  return live ? { frames: live.engine.nextFrame, busiestMs: live.busiestMs } : null;
}

self.onmessage = async ({ data }) => {
  if (data.live) {
    try {
      if (data.live === "start") self.postMessage({ id: "live", started: await startLive(data) });
      else if (data.live === "stop") stopLive();
      else if (data.live === "stats") self.postMessage({ id: "live", stats: liveStats() });
    } catch (error) {
      self.postMessage({ id: "live", error: String(error?.message || error) });
    }
    return;
  }
  try {
    const result = await separate(data);
    const transfer = Object.values(result.stems).flat().map((array) => array.buffer);
    self.postMessage({ id: data.id, ...result }, transfer);
  } catch (error) {
    self.postMessage({ id: data.id, error: String(error?.message || error) });
  }
};
