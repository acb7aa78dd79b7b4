/** The keyboard of the workspace: one key per frequent action, panels toggled, Escape backing out. */
import { explanation } from './explanation.svelte.ts';
import { sessions } from './sessions.svelte.ts';
import { theme } from './theme.svelte.ts';
import { workspace } from './workspace.svelte.ts';

const toggle = (panel: typeof workspace.panel) => workspace.togglePanel(panel);

/** The workspace's keys (the Help overlay lists them); a key a field or the labelling panel owns is left alone. */
export function workspaceKey(event: KeyboardEvent): void {
  const target = event.target as HTMLElement;
  if (event.key === 'Escape' && ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName)) {
    target.blur(); // Escape leaves a field and hands the keys back to the grid
    document.querySelector<HTMLElement>('[data-testid=grid]')?.focus();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName))
    return;
  // The labelling panel owns the keys (digits, arrows, letters answer tasks); Esc closes it unless a task is open.
  if (workspace.panel === 'labelling' && (event.key !== 'Escape' || sessions.labeller)) return;
  const actions: Record<string, () => void> = {
    c: () => toggle('confusion'),
    j: () => toggle('jobs'),
    t: () => theme.toggle(),
    '?': () => toggle('help'),
    x: () => workspace.resetFilters(),
    a: () => toggle('labelling'),
    G: () => toggle('global'),
    ...(workspace.model ? { Q: () => toggle('truth') } : {}),
    ...(workspace.model && workspace.dataset ? { u: () => toggle('map'), S: () => toggle('strategies') } : {}),
    o: () => void workspace.chooseProject(),
    '/': () => document.getElementById('filter-true-class')?.focus(),
    ...(workspace.openImageId !== null && workspace.model
      ? {
          m: () => explanation.cycleMethod(1),
          M: () => explanation.cycleMethod(-1),
          l: () => explanation.cycleLayer(1),
          L: () => explanation.cycleLayer(-1),
          v: () => explanation.choose({ visible: !explanation.visible }),
          g: () => toggle('methods'),
          k: () => toggle('layers'),
          q: () => toggle('metrics'),
          d: () => toggle('decomposition'),
          p: () => toggle('counterfactual'),
          i: () => toggle('components'),
          e: () => toggle('compare'),
        }
      : {}),
    Escape: () => (workspace.panel !== 'none' ? workspace.showPanel('none') : workspace.openImage(null)),
  };
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
}
