// Test order for `npm test`: vitest's own (larger or slower files first, groups in order), except
// that within a group the unit files are spread among the system files instead of waiting for
// them all. The system files are CPU-heavy (gatelog processes, chDB, a browser) and their
// slowest run first; a cheap unit file beside one keeps both cores busy without two heavy files
// crowding each other (vitest runs the projects of a group one after the other by name).
import { BaseSequencer, type TestSpecification } from 'vitest/node';

export default class InterleavedSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const byGroup = new Map<number, TestSpecification[]>();
    for (const f of sorted) {
      const g = f.project.config.sequence.groupOrder;
      byGroup.set(g, [...(byGroup.get(g) ?? []), f]);
    }
    const out: TestSpecification[] = [];
    for (const g of [...byGroup.keys()].sort((a, b) => a - b)) out.push(...interleave(byGroup.get(g)!));
    return out;
  }
}

/** The unit project's files spread evenly among the others', each list keeping its own order. */
function interleave(group: TestSpecification[]): TestSpecification[] {
  const unit = group.filter((f) => f.project.name === 'unit');
  const rest = group.filter((f) => f.project.name !== 'unit');
  if (!unit.length || !rest.length) return group;
  const out: TestSpecification[] = [];
  let u = 0;
  rest.forEach((f, i) => {
    out.push(f);
    const due = Math.round(((i + 1) * unit.length) / rest.length);
    while (u < due) out.push(unit[u++]!);
  });
  return out;
}
