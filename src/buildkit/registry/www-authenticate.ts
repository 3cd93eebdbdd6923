/** One challenge from a `WWW-Authenticate` header, e.g. `Bearer realm="https://auth.example/token",service="reg"`. */
export interface AuthChallenge {
  /** Lower-cased scheme: `basic`, `bearer`, … */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header into its challenges (RFC 7235: comma-separated, auth-params with quoted or
 * token values). Registries send one challenge; several are tolerated.
 */
export function parseWwwAuthenticate(header: string | null | undefined): AuthChallenge[] {
  if (!header) return [];
  const challenges: AuthChallenge[] = [];
  let i = 0;
  const s = header;
  const skip = (re: RegExp) => {
    while (i < s.length && re.test(s[i] ?? "")) i++;
  };
  while (i < s.length) {
    skip(/[\s,]/);
    const schemeStart = i;
    skip(/[^\s,]/);
    if (i === schemeStart) break;
    const current: AuthChallenge = { scheme: s.slice(schemeStart, i).toLowerCase(), params: {} };
    challenges.push(current);
    for (;;) {
      skip(/[\s,]/);
      const keyStart = i;
      skip(/[^\s=,]/);
      const key = s.slice(keyStart, i);
      skip(/\s/);
      if (s[i] !== "=" || key === "") {
        // Not a parameter: the start of the next challenge's scheme.
        i = keyStart;
        break;
      }
      i++;
      skip(/\s/);
      let value = "";
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        const valueStart = i;
        skip(/[^\s,]/);
        value = s.slice(valueStart, i);
      }
      current.params[key.toLowerCase()] = value;
      if (i >= s.length) break;
    }
  }
  return challenges;
}
