import { parseArgs } from 'util';
import { isShownByDefault } from '../../../shared/drive-constraints';
import { formatBytes } from '../../../shared/units';
import { listDrives } from '../../engine/drives/list-drives';
import type { Command } from '../commands';

export const drivesCommand: Command = {
  help: `Usage: imprint drives [--all] [--json]

Lists drives: device, size, description, bus, and flags.
  --all   also list system drives and loop devices (hidden by default)
  --json  print the list as JSON`,
  async run(args, out) {
    const { values } = parseArgs({ args, options: { all: { type: 'boolean' }, json: { type: 'boolean' } } });
    const all = await listDrives();
    const shown = values.all ? all : all.filter(isShownByDefault);
    const hidden = all.length - shown.length;
    if (out.json) {
      out.result('', { drives: shown, hidden });
      return 0;
    }
    if (shown.length === 0) out.result('No drives found.');
    for (const d of shown) {
      const flags = [d.removable && 'removable', d.readOnly && 'read-only', d.system && 'SYSTEM', d.virtual && 'virtual'].filter(Boolean).join(', ');
      const mounts = d.mountpoints.length ? `  mounted at ${d.mountpoints.join(', ')}` : '';
      out.result(`${d.device.padEnd(14)} ${formatBytes(d.size).padStart(9)}  ${d.description}  [${d.bus ?? 'unknown bus'}]${flags ? `  (${flags})` : ''}${mounts}`);
    }
    if (hidden > 0) out.info(`${hidden} system drive${hidden === 1 ? '' : 's'} or loop device${hidden === 1 ? '' : 's'} hidden; --all lists them.`);
    return 0;
  },
};
