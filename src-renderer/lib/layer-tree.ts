/**
 * The layer picker's rows: a model's layers as a flattened module tree (a heading row wherever a module
 * path starts that the previous layer did not share), filtered by a search over readable names, ops
 * and tensor names. Pure, so the picker's behaviour on a 200-layer model can be tested without a DOM.
 */
import type { LayerInfo } from '../../src-shared/contract.ts';
import { parseLayerName } from '../../src-shared/layer-names.ts';

export type LayerRow =
  | { kind: 'module'; key: string; label: string; depth: number }
  | { kind: 'layer'; key: string; label: string; depth: number; layer: LayerInfo; index: number };

export function layerRows(layers: LayerInfo[], query = ''): LayerRow[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const parsed = layers.map((layer) => ({ layer, ...parseLayerName(layer.name) }));
  // Module paths that hold other layers: a tensor whose own path is one of them (a block's Add) sits
  // inside that module under its op; any other tensor is the output of its innermost module (relu_2).
  const containers = new Set(
    parsed.flatMap(({ path }) => path.slice(0, -1).map((_, i) => path.slice(0, i + 1).join('/'))),
  );
  const rows: LayerRow[] = [];
  let previous: string[] = [];
  let index = 0;
  for (const { layer, path, op } of parsed) {
    const haystack = `${path.join(' ')} ${op} ${layer.name} ${layer.shape.join('x')}`.toLowerCase();
    if (!words.every((w) => haystack.includes(w))) continue;
    const inside = path.length === 0 || containers.has(path.join('/'));
    const modules = inside ? path : path.slice(0, -1);
    const own = inside ? op : path.at(-1)!;
    let shared = 0;
    while (shared < modules.length && shared < previous.length && modules[shared] === previous[shared]) shared++;
    for (let depth = shared; depth < modules.length; depth++)
      rows.push({ kind: 'module', key: `m:${rows.length}`, label: modules[depth]!, depth });
    previous = modules;
    rows.push({ kind: 'layer', key: `l:${layer.name}`, label: own, depth: modules.length, layer, index: index++ });
  }
  return rows;
}

/** Why a layer is of limited use, in a few words; empty when it is not. */
export const layerWarning = (layer: LayerInfo) =>
  layer.zeroGradient ? 'no gradient reaches its positions' : layer.gradients ? '' : 'gradient-free methods only';

/** Long op names shortened for the narrow panel (the full name is in the tooltip). */
export const shortOp = (op: string) => op.replace('Normalization', 'Norm');
