// The layer view beside the terminal: the upper layer's entries (new, copied up, metadata changed,
// whited out, opaque), the image's lower layers, filestore pages, and gofer round trips. Pure DOM
// rendering of what the workers report; owns no state beyond the last values shown.
import type { KernelStats, LayerSummary, UpperEntry } from './protocol';

const $ = (id: string) => document.getElementById(id)!;

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

export function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

function shortDigest(d: string): string {
  const i = d.indexOf(':');
  return i < 0 ? d || '(no digest)' : `${d.slice(0, i + 13)}…`;
}

/** The badge of an entry: [css class, text]. */
function badge(e: UpperEntry): [string, string] {
  if (e.kind === 'whiteout') return ['k-white', 'whiteout'];
  if (e.kind === 'hardlink') return ['k-link', 'hard link'];
  if (e.opaque) return ['k-new', 'opaque'];
  switch (e.where) {
    case 1:
      return ['k-new', 'new'];
    case 2:
      return ['k-copy', 'copied up'];
    case 4:
      return ['k-meta', 'metadata'];
    case 5:
      return ['k-dir', 'merged'];
    default:
      return ['k-dir', 'upper'];
  }
}

export function renderUpper(entries: UpperEntry[], total: number): void {
  const counts = { new: 0, copied: 0, meta: 0, white: 0 };
  for (const e of entries) {
    if (e.kind === 'whiteout') counts.white++;
    else if (e.kind === 'dir' && e.where === 5) continue;
    else if (e.where === 1 || e.opaque) counts.new++;
    else if (e.where === 2) counts.copied++;
    else if (e.where === 4) counts.meta++;
  }
  const chip = (cls: string, n: number, what: string) => (n ? `<span class="chip ${cls}">${n} ${what}</span>` : '');
  $('upper-summary').innerHTML =
    chip('k-new', counts.new, 'new') + chip('k-copy', counts.copied, 'copied up') + chip('k-meta', counts.meta, 'metadata') + chip('k-white', counts.white, counts.white === 1 ? 'whiteout' : 'whiteouts') ||
    '<span class="muted">nothing changed yet: every file comes from the image</span>';
  const sorted = entries.slice().sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const rows = sorted.map((e) => {
    const [cls, text] = badge(e);
    const detail =
      e.kind === 'file' ? size(e.size) : e.kind === 'symlink' || e.kind === 'hardlink' ? `→ ${esc(e.target ?? '')}` : e.kind === 'dir' ? '' : '';
    const name = e.kind === 'dir' ? `${e.path}/` : e.path;
    return `<li class="${e.kind}" data-kind="${cls}"><span class="badge ${cls}">${text}</span><span class="path" title="${esc(name)}">${esc(name)}</span><span class="detail">${detail}</span></li>`;
  });
  if (total > entries.length) rows.push(`<li><span class="empty">… and ${total - entries.length} more</span></li>`);
  $('upper-list').innerHTML = rows.join('') || '<li><span class="empty">(empty)</span></li>';
}

export function renderLower(layers: LayerSummary[], format: string, name: string, imageSize: number, nodes: number): void {
  $('lower-list').innerHTML = layers
    .slice()
    .reverse()
    .map(
      (l) =>
        `<li><span class="idx">L${l.index}</span><span title="${esc(l.digest)}">${esc(shortDigest(l.digest))}</span>${l.compressed ? '<span class="muted">gzip</span>' : ''}<span class="files-n">${l.files} entries</span></li>`,
    )
    .join('');
  $('image-line').textContent = `${name} · ${format} · ${size(imageSize)} · ${nodes} nodes merged`;
}

export function renderFetch(requests: number, bytes: number, imageSize: number, kind: 'url' | 'file'): string {
  const how = kind === 'url' ? 'HTTP Range requests' : 'Blob slices';
  return `${requests} ${how}, ${size(bytes)} of ${size(imageSize)} read`;
}

/** Between reports: the gofer's own request count and the filestore's backed size. */
export function renderLive(served: number, backedPages: number, fetched: string): void {
  $('gofer-calls').textContent = served.toLocaleString();
  const el = $('fs-line').querySelector('.backed');
  if (el) el.textContent = size(backedPages * 4096);
  const f = $('gofer-line').querySelector('.fetched');
  if (f) f.textContent = fetched;
}

export function renderStats(s: KernelStats, backedPages: number, filestore: string, fetched: string): void {
  const pct = s.pagesLimit ? Math.max(s.pagesUsed ? 0.5 : 0, (100 * s.pagesUsed) / s.pagesLimit) : 0;
  ($('fs-bar') as HTMLElement).style.width = `${Math.min(100, pct)}%`;
  $('fs-line').innerHTML =
    `<b>${s.pagesUsed.toLocaleString()}</b> pages used (${size(s.pagesUsed * 4096)}) · <b>${(s.pagesLimit - s.pagesUsed).toLocaleString()}</b> free<br>` +
    `${esc(filestore)} · <span class="backed">${size(backedPages * 4096)}</span> backed · ${s.inodes.toLocaleString()} inodes`;
  $('gofer-calls').textContent = s.goferCalls.toLocaleString();
  $('gofer-line').innerHTML = `${s.copyUps.toLocaleString()} data copy-ups<br><span class="fetched">${esc(fetched)}</span>`;
}
