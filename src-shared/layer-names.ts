/**
 * Readable names for ONNX tensors. PyTorch's exporter names a module's output after the module's scope
 * and the op, e.g. "/layer4/layer4.2/relu_2/Relu_output_0" for model.layer4[2].relu_2, with each
 * nested scope repeating its parent ("layer4.2" under "layer4"). The module path is rebuilt from that:
 * ["layer4", "2", "relu_2"], and the op ("Relu") is kept apart. Names from other exporters (tf2onnx's
 * "model/conv2d/Relu:0", anonymous "onnx::Conv_123") split on "/" the same way.
 */

export interface LayerName {
  /** Module path, outermost first; empty for an unscoped tensor. */
  path: string[];
  /** The op the exporter named the tensor after ("Relu"), or the last part of the name. */
  op: string;
}

const OP_SUFFIX = /^(.*?)(?:_\d+)?_output_\d+$/;

export function parseLayerName(name: string): LayerName {
  const parts = name.split('/').filter((p) => p !== '');
  if (parts.length === 0) return { path: [], op: name };
  const last = parts.at(-1)!;
  const op = OP_SUFFIX.exec(last)?.[1] ?? last.replace(/:\d+$/, '');
  const path: string[] = [];
  let scope = '';
  for (const part of parts.slice(0, -1)) {
    // A nested scope repeats its parent's dotted path: "layer4.2" under "layer4" is child "2".
    const own = scope && part.startsWith(`${scope}.`) ? part.slice(scope.length + 1) : part;
    path.push(own);
    scope = scope && part.startsWith(`${scope}.`) ? part : part.includes('.') ? part : own;
  }
  return { path, op };
}

/** "layer4 › 2 › relu_2", or the op for an unscoped tensor. */
export function layerLabel(name: string): string {
  const { path, op } = parseLayerName(name);
  return path.length > 0 ? path.join(' › ') : op;
}
