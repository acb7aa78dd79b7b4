/**
 * Clicks and Enter on the charts of src-shared/plots.ts: the element that was hit, by what it marks
 * (a concept, a method, a heatmap row), or null for a click beside every mark.
 */
export interface PlotHit {
  concept: string | null;
  method: string | null;
  row: string | null;
}

export function plotHit(event: MouseEvent | KeyboardEvent): PlotHit | null {
  if (event instanceof KeyboardEvent && event.key !== 'Enter' && event.key !== ' ') return null;
  const target = (event.target as Element).closest('[data-concept],[data-method],[data-row]');
  if (!target) return null;
  return {
    concept: target.getAttribute('data-concept'),
    method: target.getAttribute('data-method'),
    row: target.getAttribute('data-row'),
  };
}
