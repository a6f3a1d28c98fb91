// Suffix array construction by induced sorting (SA-IS, Nong–Zhang–Chan), linear time, on typed
// arrays. Follows the structure of the AtCoder Library's sa_is: classify L/S, induce from sorted
// LMS suffixes, name LMS substrings, recurse when names are not unique.

/** Suffix array of `s` (values in [0, upper]); SA[i] is the start of the i-th smallest suffix. */
export function suffixArray(s: Uint8Array | Int32Array, upper = 255): Int32Array {
  const n = s.length;
  if (n === 0) return new Int32Array(0);
  if (n === 1) return Int32Array.of(0);
  if (n === 2) return s[0]! < s[1]! ? Int32Array.of(0, 1) : Int32Array.of(1, 0);

  const sa = new Int32Array(n);
  // ls[i] = 1 when suffix i is S-type (smaller than suffix i+1); the last suffix is L-type.
  const ls = new Uint8Array(n);
  for (let i = n - 2; i >= 0; i--) ls[i] = s[i] === s[i + 1] ? ls[i + 1]! : s[i]! < s[i + 1]! ? 1 : 0;

  const sumL = new Int32Array(upper + 2);
  const sumS = new Int32Array(upper + 2);
  for (let i = 0; i < n; i++) {
    if (!ls[i]) sumS[s[i]!]!++;
    else sumL[s[i]! + 1]!++;
  }
  for (let i = 0; i <= upper; i++) {
    sumS[i]! += sumL[i]!;
    if (i < upper) sumL[i + 1]! += sumS[i]!;
  }

  const buf = new Int32Array(upper + 2);
  const induce = (lms: Int32Array, m: number) => {
    sa.fill(-1);
    buf.set(sumS);
    for (let k = 0; k < m; k++) {
      const d = lms[k]!;
      if (d === n) continue;
      sa[buf[s[d]!]!++] = d;
    }
    buf.set(sumL);
    sa[buf[s[n - 1]!]!++] = n - 1;
    for (let i = 0; i < n; i++) {
      const v = sa[i]!;
      if (v >= 1 && !ls[v - 1]) sa[buf[s[v - 1]!]!++] = v - 1;
    }
    buf.set(sumL);
    for (let i = n - 1; i >= 0; i--) {
      const v = sa[i]!;
      if (v >= 1 && ls[v - 1]) sa[--buf[s[v - 1]! + 1]!] = v - 1;
    }
  };

  const lmsMap = new Int32Array(n + 1).fill(-1);
  let m = 0;
  for (let i = 1; i < n; i++) if (!ls[i - 1] && ls[i]) lmsMap[i] = m++;
  const lms = new Int32Array(m);
  for (let i = 1, k = 0; i < n; i++) if (!ls[i - 1] && ls[i]) lms[k++] = i;

  induce(lms, m);

  if (m) {
    const sorted = new Int32Array(m);
    for (let i = 0, k = 0; i < n; i++) {
      const v = sa[i]!;
      if (lmsMap[v] !== -1) sorted[k++] = v;
    }
    const rec = new Int32Array(m);
    let recUpper = 0;
    rec[lmsMap[sorted[0]!]!] = 0;
    for (let i = 1; i < m; i++) {
      let l = sorted[i - 1]!;
      let r = sorted[i]!;
      const endL = lmsMap[l]! + 1 < m ? lms[lmsMap[l]! + 1]! : n;
      const endR = lmsMap[r]! + 1 < m ? lms[lmsMap[r]! + 1]! : n;
      let same = true;
      if (endL - l !== endR - r) same = false;
      else {
        while (l < endL && s[l] === s[r]) {
          l++;
          r++;
        }
        if (l === n || s[l] !== s[r]) same = false;
      }
      if (!same) recUpper++;
      rec[lmsMap[sorted[i]!]!] = recUpper;
    }
    const recSa = suffixArray(rec, recUpper);
    for (let i = 0; i < m; i++) sorted[i] = lms[recSa[i]!]!;
    induce(sorted, m);
  }
  return sa;
}
