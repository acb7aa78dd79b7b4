/** Light and dark themes: the user's choice is kept; otherwise the system's preference. */
export type ThemeName = 'light' | 'dark';

const KEY = 'xaiws.theme';

class Theme {
  current = $state<ThemeName>(initial());

  constructor() {
    $effect.root(() => {
      $effect(() => {
        document.documentElement.dataset.theme = this.current;
      });
    });
  }

  toggle(): void {
    this.current = this.current === 'dark' ? 'light' : 'dark';
    localStorage.setItem(KEY, this.current);
  }
}

function initial(): ThemeName {
  const saved = localStorage.getItem(KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export const theme = new Theme();
