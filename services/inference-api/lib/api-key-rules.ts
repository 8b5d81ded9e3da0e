/** Shortest accepted API key: keys are secrets, so they must not be guessable. */
export const MIN_API_KEY_LENGTH = 16;

/**
 * Problems with a list of keys, each named by `where(i)` (a variable and position, or a file
 * line), never by the key itself: it is a secret.
 */
export function checkApiKeys(keys: readonly string[], where: (i: number) => string): string[] {
  const problems: string[] = [];
  keys.forEach((key, i) => {
    if (key.length < MIN_API_KEY_LENGTH) {
      problems.push(
        `${where(i)} is ${key.length} characters; at least ${MIN_API_KEY_LENGTH} are required`,
      );
    } else if (!/^[\x21-\x7e]+$/.test(key)) {
      problems.push(`${where(i)} has a character that is not printable ASCII`);
    }
  });
  return problems;
}
