/** Ten distinguishable colours for classes (Tableau 10), repeated beyond ten. */
const TABLEAU = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

export const classColour = (index: number): string => (index < 0 ? '#888888' : TABLEAU[index % TABLEAU.length]!);
