/**
 * Real image files for import tests, written with sharp into a temporary folder: every supported
 * format in grey and colour, and every kind of bad file the importer must skip.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import sharp from 'sharp';

export function tempDir(prefix = 'xaiws-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function pattern(width: number, height: number, channels: 1 | 3, seed: number): Buffer {
  const data = Buffer.alloc(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 17) % 256;
  return data;
}

export async function writeImage(
  path: string,
  format: 'png' | 'jpeg' | 'webp' | 'tiff' | 'gif',
  channels: 1 | 3,
  seed: number,
  size = 32,
): Promise<void> {
  const image = sharp(pattern(size, size, channels, seed), { raw: { width: size, height: size, channels } });
  // WebP and GIF have no greyscale mode: their "grey" files are RGB(A) with equal channels.
  await image
    .toColourspace(channels === 1 ? 'b-w' : 'srgb')
    .toFormat(format)
    .toFile(path);
}

export interface GoodAndBad {
  root: string;
  good: number;
  bad: Record<string, string>;
}

/** A class-folder tree: 2 classes x 5 formats x grey/colour good images, plus one bad file per case. */
export async function classFolderTree(): Promise<GoodAndBad> {
  const root = tempDir();
  const formats = [
    ['png', 'png'],
    ['jpg', 'jpeg'],
    ['webp', 'webp'],
    ['tiff', 'tiff'],
    ['gif', 'gif'],
  ] as const;
  let good = 0;
  for (const [classIndex, className] of ['cat', 'dog'].entries()) {
    mkdirSync(join(root, className));
    for (const [extension, format] of formats) {
      for (const channels of [1, 3] as const) {
        await writeImage(
          join(root, className, `${format}-${channels}.${extension}`),
          format,
          channels,
          classIndex * 10 + good,
        );
        good += 1;
      }
    }
  }
  const bad: Record<string, string> = {};
  writeFileSync(join(root, 'cat', 'empty.png'), Buffer.alloc(0));
  bad['cat/empty.png'] = 'empty_file';
  const png = await sharp(pattern(64, 64, 3, 1), { raw: { width: 64, height: 64, channels: 3 } })
    .png()
    .toBuffer();
  writeFileSync(join(root, 'cat', 'truncated.png'), png.subarray(0, Math.floor(png.length / 2)));
  bad['cat/truncated.png'] = 'truncated';
  writeFileSync(join(root, 'dog', 'notes.png'), 'this is not an image, only text with a .png name\n');
  bad['dog/notes.png'] = 'not_an_image';
  writeFileSync(join(root, 'dog', 'readme.txt'), 'wrong file type');
  bad['dog/readme.txt'] = 'unsupported_type';
  await sharp({ create: { width: 400, height: 300, channels: 3, background: '#808080' } })
    .png()
    .toFile(join(root, 'dog', 'huge.png'));
  bad['dog/huge.png'] = 'too_large';
  symlinkSync(join(root, 'missing-target.png'), join(root, 'dog', 'dangling.png'));
  bad['dog/dangling.png'] = 'unreadable';
  // Special files named like images: a named pipe no one writes to, and a link to an endless device.
  execFileSync('mkfifo', [join(root, 'cat', 'pipe.png')]);
  bad['cat/pipe.png'] = 'not_a_file';
  symlinkSync('/dev/zero', join(root, 'dog', 'zero.png'));
  bad['dog/zero.png'] = 'not_a_file';
  return { root, good, bad };
}

/** An IDX image/label pair of n 8x8 images with labels 0..2, gzipped or not. */
export function idxPair(folder: string, n: number, gzip: boolean): { images: string; labels: string } {
  const images = Buffer.alloc(16 + n * 64);
  images.writeUInt32BE(0x00000803, 0);
  images.writeUInt32BE(n, 4);
  images.writeUInt32BE(8, 8);
  images.writeUInt32BE(8, 12);
  for (let i = 0; i < n * 64; i++) images[16 + i] = (i * 7) % 256;
  const labels = Buffer.alloc(8 + n);
  labels.writeUInt32BE(0x00000801, 0);
  labels.writeUInt32BE(n, 4);
  for (let i = 0; i < n; i++) labels[8 + i] = i % 3;
  const suffix = gzip ? '.gz' : '';
  const imagesPath = join(folder, `train-images-idx3-ubyte${suffix}`);
  const labelsPath = join(folder, `train-labels-idx1-ubyte${suffix}`);
  writeFileSync(imagesPath, gzip ? gzipSync(images) : images);
  writeFileSync(labelsPath, gzip ? gzipSync(labels) : labels);
  return { images: imagesPath, labels: labelsPath };
}

/** The first n Fashion-MNIST test images and labels as an IDX pair (with the dataset's classes.txt). */
export function fashionMnistSubset(folder: string, n: number): string {
  const source = '/usr/share/datasets/fashion-mnist';
  const images = gunzipSync(readFileSync(join(source, 't10k-images-idx3-ubyte.gz')));
  const labels = gunzipSync(readFileSync(join(source, 't10k-labels-idx1-ubyte.gz')));
  const imageHeader = Buffer.from(images.subarray(0, 16));
  imageHeader.writeUInt32BE(n, 4);
  const labelHeader = Buffer.from(labels.subarray(0, 8));
  labelHeader.writeUInt32BE(n, 4);
  mkdirSync(folder, { recursive: true });
  copyFileSync('resources/datasets/fashion-mnist/classes.txt', join(folder, 'classes.txt'));
  writeFileSync(
    join(folder, 't10k-images-idx3-ubyte'),
    Buffer.concat([imageHeader, images.subarray(16, 16 + n * 784)]),
  );
  writeFileSync(join(folder, 't10k-labels-idx1-ubyte'), Buffer.concat([labelHeader, labels.subarray(8, 8 + n)]));
  return folder;
}
