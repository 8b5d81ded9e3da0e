import { describe, expect, it } from 'vitest';
import { groupFigures, imageGroup } from '../../shared/metrics/groups.ts';

describe('image groups', () => {
  it('reads the group from the Kermany file names', () => {
    expect(imageGroup('/d/PNEUMONIA/person1_bacteria_1.jpeg', 1)).toBe('bacterial');
    expect(imageGroup('/d/PNEUMONIA/person10_virus_35.jpeg', 1)).toBe('viral');
    expect(imageGroup('/d/NORMAL/IM-0115-0001.jpeg', 0)).toBe('normal-IM');
    expect(imageGroup('/d/NORMAL/NORMAL2-IM-0427-0001.jpeg', 0)).toBe('normal-NORMAL2');
    expect(imageGroup('/d/NORMAL/scan.png', 0)).toBe('other');
  });

  it('gives recall for pneumonia groups and specificity for NORMAL groups', () => {
    const paths = [
      'a_bacteria_1',
      'b_bacteria_2',
      'c_virus_1',
      'IM-1',
      'NORMAL2-IM-1',
      'NORMAL2-IM-2',
    ];
    const labels = [1, 1, 1, 0, 0, 0];
    const p = [0.9, 0.3, 0.7, 0.2, 0.8, 0.4];
    expect(groupFigures(paths, labels, p, 0.5)).toEqual([
      { group: 'bacterial', n: 2, correct: 0.5, meanProbability: 0.6 },
      { group: 'viral', n: 1, correct: 1, meanProbability: 0.7 },
      { group: 'normal-IM', n: 1, correct: 1, meanProbability: 0.2 },
      { group: 'normal-NORMAL2', n: 2, correct: 0.5, meanProbability: expect.closeTo(0.6, 12) },
    ]);
  });
});
