/** Where a map lies over a photograph that is not the model's shape, for each manifest resize mode. */
import { describe, expect, it } from 'vitest';
import { mapRect } from '../../src-renderer/lib/overlay-geometry.ts';

describe('the map rectangle over a shown image', () => {
  // A 451 x 300 photograph in a 224-px box: shown 224 x 149, 37.5 px from the top.
  const shown = { left: 0, top: (224 - (300 * 224) / 451) / 2, width: 224, height: (300 * 224) / 451 };

  it('stretch: the whole image', () => {
    expect(mapRect(451, 300, 224, 'stretch', 1)).toEqual(shown);
  });

  it('cover: the centred crop of the model aspect', () => {
    const rect = mapRect(451, 300, 224, 'cover', 1);
    expect(rect.width).toBeCloseTo(shown.height);
    expect(rect.height).toBeCloseTo(shown.height);
    expect(rect.top).toBeCloseTo(shown.top);
    expect(rect.left).toBeCloseTo((224 - shown.height) / 2);
    const wide = mapRect(300, 451, 224, 'cover', 2); // a portrait photo for a 2:1 model: a band across it
    expect(wide.width / wide.height).toBeCloseTo(2);
    expect(wide.width).toBeCloseTo((300 * 224) / 451);
  });

  it('contain: the image and its letterbox bars', () => {
    const rect = mapRect(451, 300, 224, 'contain', 1);
    expect(rect).toEqual({ left: 0, top: 0, width: 224, height: 224 });
    const square = mapRect(300, 300, 224, 'contain', 1);
    expect(square).toEqual({ left: 0, top: 0, width: 224, height: 224 });
  });
});
