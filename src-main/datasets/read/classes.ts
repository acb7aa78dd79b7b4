import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MiB, readBoundedSync } from '../../io/files.ts';

const FASHION_MNIST = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/**
 * Class names for numeric labels: given explicitly, else a classes.txt (one per line) beside the
 * data, else the Fashion-MNIST names when the folder says so, else the numbers themselves.
 */
export function classNamesFor(
  folder: string,
  labels: Iterable<number>,
  explicit?: readonly string[],
): (label: number) => string {
  const names = explicit ?? readClassesFile(folder) ?? (/fashion/i.test(folder) ? FASHION_MNIST : undefined);
  let max = -1;
  for (const label of labels) max = Math.max(max, label);
  if (names && names.length > max) return (label) => names[label]!;
  return (label) => String(label);
}

function readClassesFile(folder: string): string[] | undefined {
  const path = join(folder, 'classes.txt');
  if (!existsSync(path)) return undefined;
  const names = readBoundedSync(path, MiB)
    .toString('utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  return names.length > 0 ? names : undefined;
}
