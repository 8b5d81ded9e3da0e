// Small display helpers shared by the pages.

export function when(iso) {
  if (!iso) return '-';
  return new Date(iso).toLocaleString();
}

/** "3 min ago" from an ISO time, against `now` (ms). */
export function ago(iso, now = Date.now()) {
  if (!iso) return 'never';
  const seconds = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function num(value, digits = 3) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '-';
}

export function pct(value) {
  return typeof value === 'number' && Number.isFinite(value)
    ? `${(value * 100).toFixed(1)} %`
    : '-';
}

export function shortId(id) {
  return id ? id.slice(0, 8) : '-';
}
