import type { BackupFolderInfo, GenerationSummary } from '../../shared/backup-folder-types';
import { formatBytes } from '../../shared/units';
import { groupGenerations } from '../store/generation-groups';

function when(iso: string | null): string {
  if (!iso) return 'unknown';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

const bytes = (n: number | null): string => (n === null ? 'unknown' : formatBytes(n));

/**
 * A backup folder's generations, by drive, newest first: one radio button
 * each (the arrow keys move between them), with the date, the drive's size,
 * the data it holds and the new data it added to the folder.
 */
export function GenerationList({ info, chosen, onChoose }: { info: BackupFolderInfo; chosen: string | null; onChoose(id: string): void }) {
  const groups = groupGenerations(info.generations);
  return (
    <fieldset className="mode-choice generations">
      <legend>Generations in {info.path}</legend>
      {groups.map((group) => (
        <table key={group.key} className="plan-table" aria-label={`Generations of ${group.label}`}>
          <caption className="generation-drive">{group.label}</caption>
          <thead>
            <tr>
              <th scope="col">Generation</th>
              <th scope="col">Drive size</th>
              <th scope="col">Data</th>
              <th scope="col">New data</th>
            </tr>
          </thead>
          <tbody>
            {group.generations.map((g) => (
              <GenerationRow key={g.id} g={g} checked={g.id === chosen} onChoose={onChoose} />
            ))}
          </tbody>
        </table>
      ))}
      <p className="muted small tight">Data: what the generation holds of the drive. New data: what it added to the folder, compressed (the rest it shares with other generations).</p>
    </fieldset>
  );
}

function GenerationRow({ g, checked, onChoose }: { g: GenerationSummary; checked: boolean; onChoose(id: string): void }) {
  if (g.error) {
    return (
      <tr>
        <td>
          <label className="check">
            <input type="radio" name="generation" disabled />#{g.number} ({g.id})
          </label>
        </td>
        <td colSpan={3} className="error">
          Cannot be read: {g.error}
        </td>
      </tr>
    );
  }
  return (
    <tr>
      <td>
        <label className="check">
          <input type="radio" name="generation" value={g.id} checked={checked} onChange={() => onChoose(g.id)} />#{g.number}, {when(g.createdAt)}
        </label>
      </td>
      <td className="num">{bytes(g.size)}</td>
      <td className="num">{bytes(g.storedBytes)}</td>
      <td className="num">{bytes(g.addedStoredBytes)}</td>
    </tr>
  );
}
