/**
 * Reports to PDF inside the app: Electron's own Chromium prints them (webContents.printToPDF), so the
 * app needs no system browser and never starts one with --no-sandbox. The report is loaded from a
 * temporary file into a hidden, sandboxed window with scripts off (the report has none).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrowserWindow } from 'electron';
import { ApiError } from '../../src-shared/errors.ts';
import type { PdfPrinter } from '../runtime/context.ts';

export const printWithElectron: PdfPrinter = async (html, pdfPath) => {
  const dir = mkdtempSync(join(tmpdir(), 'xaiws-report-'));
  const window = new BrowserWindow({
    show: false,
    webPreferences: { sandbox: true, contextIsolation: true, nodeIntegration: false, javascript: false },
  });
  try {
    const htmlPath = join(dir, 'report.html');
    writeFileSync(htmlPath, html);
    await window.loadFile(htmlPath);
    const pdf = await window.webContents.printToPDF({ printBackground: true, pageSize: 'A4' });
    writeFileSync(pdfPath, pdf);
    return pdfPath;
  } catch (error) {
    throw new ApiError(
      'pdf_unavailable',
      `The report could not be printed to ${pdfPath}: ${(error as Error).message}`,
      undefined,
      error,
    );
  } finally {
    window.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
};
