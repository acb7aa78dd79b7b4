/**
 * The system's open and save dialogs, shown by main over the focused window (the renderer never types
 * a path in the desktop app). Each purpose has its title, its filters and whether it picks a folder.
 */
import { BrowserWindow, dialog, type FileFilter, type OpenDialogOptions } from 'electron';
import type { OpenPurpose, SavePurpose } from '../../src-shared/contract.ts';
import type { DialogRuntime } from '../runtime/context.ts';

const PROJECT: FileFilter = { name: 'XAI Workstation project', extensions: ['xaiws'] };

const OPEN: Record<OpenPurpose, { title: string; folder?: boolean; filters?: FileFilter[] }> = {
  'import-folder': { title: 'Import a folder of images (one subfolder per class)', folder: true },
  'import-file': {
    title: 'Import an IDX file or a CSV of images and labels',
    filters: [{ name: 'IDX or CSV', extensions: ['gz', 'idx3-ubyte', 'ubyte', 'csv'] }],
  },
  model: { title: 'Add an ONNX classifier', filters: [{ name: 'ONNX model', extensions: ['onnx'] }] },
  manifest: { title: 'The model’s manifest', filters: [{ name: 'Manifest', extensions: ['json'] }] },
  pack: { title: 'Merge an annotator pack', filters: [PROJECT] },
  project: { title: 'Open a project', filters: [PROJECT] },
};

const SAVE: Record<SavePurpose, { title: string; filters: FileFilter[]; extension: string }> = {
  'report-html': {
    title: 'Save the report',
    filters: [{ name: 'HTML report', extensions: ['html'] }],
    extension: 'html',
  },
  'report-pdf': { title: 'Save the report as PDF', filters: [{ name: 'PDF', extensions: ['pdf'] }], extension: 'pdf' },
  pack: { title: 'Save an annotator pack', filters: [PROJECT], extension: 'xaiws' },
  project: { title: 'Create a project', filters: [PROJECT], extension: 'xaiws' },
};

export const electronDialogs: DialogRuntime = {
  async open(purpose) {
    const spec = OPEN[purpose];
    const options: OpenDialogOptions = {
      title: spec.title,
      properties: [spec.folder ? 'openDirectory' : 'openFile'],
      filters: spec.filters,
    };
    const window = BrowserWindow.getFocusedWindow();
    const chosen = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
    return chosen.canceled ? null : (chosen.filePaths[0] ?? null);
  },
  async save(purpose, defaultName) {
    const spec = SAVE[purpose];
    const name = defaultName
      ? defaultName.endsWith(`.${spec.extension}`)
        ? defaultName
        : `${defaultName}.${spec.extension}`
      : undefined;
    const options = { title: spec.title, filters: spec.filters, defaultPath: name };
    const window = BrowserWindow.getFocusedWindow();
    const chosen = window ? await dialog.showSaveDialog(window, options) : await dialog.showSaveDialog(options);
    return chosen.canceled || !chosen.filePath ? null : chosen.filePath;
  },
};
