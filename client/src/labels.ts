/** Label sets as text. */

/** `{a="b", c="d"}` of a label set: names sorted, values quoted as LogQL writes them. */
export function labelsText(labels: Record<string, string>): string {
  return `{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(', ')}}`;
}
