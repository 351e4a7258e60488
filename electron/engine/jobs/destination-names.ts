/**
 * Whether a name read from a filesystem (untrusted) may become one path
 * component under an extraction's destination. Names that would leave the
 * destination (`/`, `\`, `..`, `.`, NUL, empty) are refused everywhere;
 * names the destination's OS cannot hold are refused per platform, and
 * reported rather than silently changed.
 */

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[1-9¹²³]|lpt[1-9¹²³])(\..*)?$/i;
/** Longest name (bytes of UTF-8) Linux and macOS filesystems accept. */
const MAX_NAME_BYTES = 255;

/** Null when `name` is safe as a component on `platform`, else why not (for the user). */
export function unsafeNameReason(name: string, platform: NodeJS.Platform = process.platform): string | null {
  if (name.length === 0) return 'the name is empty';
  if (name === '.' || name === '..') return `the name "${name}" would leave the folder`;
  if (name.includes('\0')) return 'the name holds a NUL character';
  if (name.includes('/')) return 'the name holds "/", which would make it a path';
  if (name.includes('\\')) return 'the name holds "\\", which would make it a path on Windows';
  if (platform === 'win32') {
    const bad = /[<>:"|?*\u0000-\u001f]/.exec(name);
    if (bad) return `the name holds "${bad[0] < ' ' ? `\\x${bad[0].charCodeAt(0).toString(16).padStart(2, '0')}` : bad[0]}", which Windows does not allow`;
    if (/[. ]$/.test(name)) return 'the name ends with a dot or a space, which Windows drops';
    if (WINDOWS_RESERVED.test(name)) return `"${name}" is a device name on Windows`;
    if (name.length > 255) return 'the name is longer than Windows allows (255 characters)';
  } else if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    return `the name is longer than ${MAX_NAME_BYTES} bytes`;
  }
  return null;
}
