/**
 * The explanation panel's settings (method, layer, target class, overlay look), shared by the panel,
 * the all-methods grid and the keyboard shortcuts, and the layers of the current model.
 */
import {
  CAM_METHOD_NAMES,
  METHOD_LABELS,
  smoothingApplies,
  type CamMethodName,
  type LayerInfo,
  type Smoothing,
} from '../../src-shared/contract.ts';
import { api } from './api.ts';
import type { Colormap } from './colormaps.ts';

export { METHOD_LABELS };

export const SMOOTHING_LABELS: Record<Smoothing, string> = {
  none: 'none',
  aug: 'test-time augmentation',
  eigen: 'first principal component',
};

export class ExplanationSettings {
  #method = $state<CamMethodName>('gradcam');
  #layer = $state('');
  /** -1: the predicted class. */
  #target = $state(-1);
  #opacity = $state(0.55);
  #smoothing = $state<Smoothing>('none');
  #colormap = $state<Colormap>('jet');
  #smooth = $state(true);
  #visible = $state(true);
  #layers = $state.raw<LayerInfo[]>([]);
  #layersError = $state<string | null>(null);
  private layersOf: number | null = null;

  get method() {
    return this.#method;
  }

  get layer() {
    return this.#layer;
  }

  get target() {
    return this.#target;
  }

  /** The chosen smoothing where it applies to the method, else none. */
  get smoothing(): Smoothing {
    return smoothingApplies(this.#method, this.#smoothing) ? this.#smoothing : 'none';
  }

  get chosenSmoothing(): Smoothing {
    return this.#smoothing;
  }

  get opacity() {
    return this.#opacity;
  }

  get colormap() {
    return this.#colormap;
  }

  get smooth() {
    return this.#smooth;
  }

  get visible() {
    return this.#visible;
  }

  get layers() {
    return this.#layers;
  }

  get layersError() {
    return this.#layersError;
  }

  /** Changes some of the settings; the others stay. */
  choose(
    patch: Partial<
      Pick<ExplanationSettings, 'method' | 'layer' | 'target' | 'opacity' | 'colormap' | 'smooth' | 'visible'> & {
        smoothing: Smoothing;
      }
    >,
  ): void {
    if (patch.method !== undefined) this.#method = patch.method;
    if (patch.layer !== undefined) this.#layer = patch.layer;
    if (patch.target !== undefined) this.#target = patch.target;
    if (patch.smoothing !== undefined) this.#smoothing = patch.smoothing;
    if (patch.opacity !== undefined) this.#opacity = patch.opacity;
    if (patch.colormap !== undefined) this.#colormap = patch.colormap;
    if (patch.smooth !== undefined) this.#smooth = patch.smooth;
    if (patch.visible !== undefined) this.#visible = patch.visible;
  }

  async loadLayers(modelId: number): Promise<void> {
    if (this.layersOf === modelId) return;
    this.layersOf = modelId;
    this.#layers = [];
    this.#layersError = null;
    try {
      const layers = await api.call('explain.layers', { modelId });
      if (this.layersOf !== modelId) return;
      this.#layers = layers;
      if (!layers.some((l) => l.name === this.layer)) this.#layer = defaultLayer(layers);
    } catch (error) {
      this.#layersError = (error as Error).message;
    }
  }

  cycleMethod(step = 1): void {
    const i = CAM_METHOD_NAMES.indexOf(this.method);
    this.#method = CAM_METHOD_NAMES[(i + step + CAM_METHOD_NAMES.length) % CAM_METHOD_NAMES.length]!;
  }

  cycleLayer(step = 1): void {
    if (this.layers.length === 0) return;
    const i = this.layers.findIndex((l) => l.name === this.layer);
    this.#layer = this.layers[(i + step + this.layers.length) % this.layers.length]!.name;
  }
}

/** The layer the main process recommends (a CNN's last block, a ViT's norm before the last block). */
function defaultLayer(layers: LayerInfo[]): string {
  const withGradients = layers.filter((l) => l.gradients);
  return (layers.find((l) => l.recommended) ?? withGradients.at(-1) ?? layers.at(-1))?.name ?? '';
}

export const explanation = new ExplanationSettings();
