// The separation runs here, off the page's thread: the mixture (at its own rate) is resampled
// to the model's rate, the model runs on the overlap-add's batches of segments with ONNX
// Runtime Web (WASM, multi-threaded where the page is cross-origin isolated), the estimates
// are resampled back and the stems put together, as lightsep.Separator does.
import * as ort from "./ort/ort.wasm.min.mjs";
import { assembleStems, convertChannels, overlapAdd, resample } from "./lightsep.js";

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

async function separate({ id, modelUrl, meta, mixture, rate }) {
  const progress = (fraction) => self.postMessage({ id, progress: fraction });
  const model = await session(modelUrl);
  const started = performance.now();
  // a mono model separates each channel; a multichannel one sees its own channel count
  const modelChannels = meta.audio_channels === 1 ? mixture.length : meta.audio_channels;
  const atModelRate = resample(convertChannels(mixture, modelChannels), rate, meta.sample_rate);
  progress(0.05);
  const run = async (batch, n) => {
    const input = new ort.Tensor("float32", batch, [n, meta.audio_channels, meta.context_samples]);
    const result = await model.run({ [model.inputNames[0]]: input });
    const output = result[model.outputNames[0]];
    const values = output.data;
    output.dispose?.();
    return values;
  };
  const estimates = await overlapAdd(atModelRate, meta, run, (fraction) => progress(0.05 + 0.85 * fraction));
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

self.onmessage = async ({ data }) => {
  try {
    const result = await separate(data);
    const transfer = Object.values(result.stems).flat().map((array) => array.buffer);
    self.postMessage({ id: data.id, ...result }, transfer);
  } catch (error) {
    self.postMessage({ id: data.id, error: String(error?.message || error) });
  }
};
