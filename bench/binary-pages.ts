/**
 * Which parts of the `node` binary a process has resident (its file-backed RSS), by the code or
 * data they belong to: `node --import tsx bench/binary-pages.ts PID [PID…]` prints, per group
 * (V8's compiler tiers, WebAssembly, ICU's code and each item of its data, OpenSSL, zlib, libuv…),
 * the KiB each process maps, and with two or more PIDs the difference against the first. A
 * measurement, not a test.
 *
 * How: /proc/PID/maps names the binary's mappings; /proc/PID/pagemap says which of their pages are
 * present in the process's page tables (bit 63, readable by the process's own user), which is what
 * the kernel counts in RssFile. The binary is not position-independent, so a page's address is its
 * address in the ELF file: `nm -S -C` names the symbol around it. ICU's data is one symbol
 * (`icudt<N>_dat`, ~31 MiB); its table of contents names the item (a converter, a collation, the
 * Unicode properties…) each of its pages belongs to.
 */
import { execFileSync } from 'node:child_process';
import { openSync, readFileSync, readSync, closeSync, realpathSync } from 'node:fs';

const PAGE = 4096;

/** A named range of the binary's addresses. */
interface Range {
  start: number;
  end: number;
  name: string;
}

/**
 * The binary's defined symbols, sorted by address (`nm -S -C`); a symbol without a size (V8's
 * builtins, assembly) runs to the next one.
 */
export function symbols(binary: string): Range[] {
  const out = execFileSync('nm', ['-S', '-C', '--defined-only', binary], { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' });
  const list: (Range & { sized: boolean })[] = [];
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]+) (?:([0-9a-f]+) )?([tTrRdDbBuV]) (.*)$/.exec(line);
    if (!m || /^\.annobin|^_GLOBAL__sub/.test(m[4]!)) continue;
    const start = parseInt(m[1]!, 16);
    if (start === 0) continue;
    const size = m[2] ? parseInt(m[2], 16) : 0;
    list.push({ start, end: start + size, name: m[4]!, sized: size > 0 });
  }
  list.sort((a, b) => a.start - b.start);
  // An unsized symbol ends where the next symbol starts, at most 64 KiB on.
  list.forEach((s, i) => {
    if (!s.sized) s.end = Math.min(list.slice(i + 1).find((n) => n.start > s.start)?.start ?? s.start, s.start + 65536);
  });
  return list.filter((s) => s.end > s.start).map(({ start, end, name }) => ({ start, end, name }));
}

/** The binary's allocated sections (`readelf -S`), for pages no symbol names. */
export function sections(binary: string): Range[] {
  const out = execFileSync('readelf', ['-S', '-W', binary], { encoding: 'utf8' });
  const list: Range[] = [];
  for (const line of out.split('\n')) {
    const m = /\]\s+(\S+)\s+\S+\s+([0-9a-f]+) [0-9a-f]+ ([0-9a-f]+)/.exec(line);
    if (m && parseInt(m[2]!, 16) > 0) list.push({ start: parseInt(m[2]!, 16), end: parseInt(m[2]!, 16) + parseInt(m[3]!, 16), name: m[1]! });
  }
  return list;
}

/**
 * The items of ICU's common data (`icudt<N>_dat`), as ranges of the binary's addresses: the data
 * starts with a header (its size in the first two bytes), then a table of contents, a count and
 * that many (name offset, data offset) pairs, both relative to the table's start.
 */
export function icuItems(binary: string, icu: Range): Range[] {
  const fileOffset = elfOffset(binary, icu.start);
  const fd = openSync(binary, 'r');
  try {
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, fileOffset);
    const headerSize = head.readUInt16LE(0);
    const toc = fileOffset + headerSize;
    readSync(fd, head, 0, 4, toc);
    const count = head.readUInt32LE(0);
    const table = Buffer.alloc(count * 8);
    readSync(fd, table, 0, table.length, toc + 4);
    const names = Buffer.alloc(Math.min(1 << 20, icu.end - icu.start));
    readSync(fd, names, 0, names.length, toc);
    const items: Range[] = [];
    for (let i = 0; i < count; i++) {
      const nameAt = table.readUInt32LE(i * 8);
      const dataAt = table.readUInt32LE(i * 8 + 4);
      const name = names.toString('latin1', nameAt, names.indexOf(0, nameAt));
      items.push({ start: icu.start + headerSize + dataAt, end: 0, name });
    }
    items.sort((a, b) => a.start - b.start);
    items.forEach((item, i) => (item.end = items[i + 1]?.start ?? icu.end));
    return items;
  } finally {
    closeSync(fd);
  }
}

/** The file offset of a virtual address, from the ELF's section table (`readelf -S`). */
function elfOffset(binary: string, address: number): number {
  const out = execFileSync('readelf', ['-S', '-W', binary], { encoding: 'utf8' });
  for (const line of out.split('\n')) {
    const m = /\]\s+\S+\s+PROGBITS\s+([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)/.exec(line);
    if (!m) continue;
    const [addr, off, size] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
    if (addr > 0 && address >= addr && address < addr + size) return off + (address - addr);
  }
  throw new Error(`no section of ${binary} holds 0x${address.toString(16)}`);
}

/** The addresses of the binary's pages resident in `pid` (present in its page tables). */
export function residentPages(pid: number, binary: string): number[] {
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
  const pages: number[] = [];
  const fd = openSync(`/proc/${pid}/pagemap`, 'r');
  try {
    for (const line of maps.split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s+(.*)$/.exec(line);
      if (!m || m[3] !== binary) continue;
      const [start, end] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16)];
      const entries = Buffer.alloc(((end - start) / PAGE) * 8);
      readSync(fd, entries, 0, entries.length, (start / PAGE) * 8);
      for (let i = 0; i < entries.length / 8; i++) if (entries.readBigUInt64LE(i * 8) >> 63n) pages.push(start + i * PAGE);
    }
  } finally {
    closeSync(fd);
  }
  return pages;
}

/** The group a symbol belongs to: a library, a part of V8 or Node, or an ICU data item. */
export function groupOf(name: string): string {
  if (name.startsWith('icu data: ')) {
    const item = name.slice('icu data: '.length).replace(/^icudt\d+l\//, '');
    return `ICU data: ${item.includes('/') ? `${item.slice(0, item.indexOf('/'))}/*` : item}`;
  }
  if (/^Builtins_/.test(name) || /embedded_blob/.test(name)) return 'V8 builtins (embedded)';
  const ns = /^(?:non-virtual thunk to |virtual thunk to |guard variable for |vtable for |typeinfo for )?([A-Za-z_][\w]*)::(?:\(anonymous namespace\)::)?([A-Za-z_][\w]*)?(?:::([A-Za-z_]\w*))?/.exec(name);
  if (ns) {
    const [, first, second, third] = ns;
    if (first === 'v8' && second === 'internal') {
      if (third === 'wasm' || /^Wasm|^wasm/.test(third ?? '')) return 'V8 WebAssembly';
      if (third === 'compiler' || third === 'maglev' || third === 'turboshaft') return `V8 ${third === 'compiler' ? 'TurboFan/Turboshaft' : third}`;
      if (third === 'interpreter' || third === 'baseline') return `V8 ${third}`;
      if (/^(Parser|Scanner|Preparse|PreParser|AstNode|Ast|Scope|DeclarationScope|Zone)/.test(third ?? '')) return 'V8 parser';
      if (/^(Heap|Scavenger|MarkCompact|MinorMark|Sweeper|Concurrent|Marking|Page|MemoryAllocator|MemoryChunk|Mutable|ReadOnly)/.test(third ?? '')) return 'V8 heap and GC';
      if (/^(RegExp|Irregexp)/.test(third ?? '')) return 'V8 regexp';
      if (/^(Intl|JSDateTimeFormat|JSNumberFormat|JSCollator|JSLocale|JSSegment|JSPluralRules|JSListFormat|JSRelativeTimeFormat|JSDisplayNames)/.test(third ?? '')) return 'V8 Intl';
      return 'V8 other';
    }
    if (first === 'v8' || first === 'v8_inspector' || first === 'cppgc' || first === 'heap') return first === 'v8_inspector' ? 'V8 inspector' : 'V8 other';
    if (/^icu_\d+$/.test(first!)) return 'ICU code';
    if (first === 'node') {
      if (['crypto', 'inspector', 'http2', 'quic', 'wasi', 'worker', 'sqlite', 'zlib', 'fs', 'fs_dir', 'tracing', 'builtins', 'snapshot', 'loader', 'heap', 'report', 'options_parser'].includes(second ?? '')) return `node::${second}`;
      return 'node other';
    }
    if (first === 'ncrypto') return 'node::crypto';
    return `${first}::`;
  }
  if (/^(ossl_|OSSL_|EVP_|SSL_|ssl|tls|OPENSSL_|CRYPTO_|ERR_|BN_|bn_|EC_|ec_|RSA_|X509|x509|ASN1|asn1|PEM_|BIO_|OBJ_|ecp_|sha|SHA|aes|AES|md5|MD5|gcm|chacha|poly1305|DH_|dh_|DSA_|HMAC|RAND_|rand_|CONF_|conf_|PKCS|nid_objs|evp_|engine_|ENGINE_|ct_|SCT_|OCSP|ERR|err_|kdf|KDF|ossl|CMS_|X25519|ED25519|curve|mlkem|ml_kem|ml_dsa|slh_|camellia|des_|DES_|bf_|BF_|cast_|idea_|rc[245]_|RC[245]_|seed_|SEED_|whirlpool|sm[234]_|aria|ARIA|blake2|keccak|SM[234]|o2i|i2o|d2i|i2d|UI_|DSO_|dso_|COMP_|DECODER|ENCODER|OPENSSL|STORE|provider|property|ossl)/.test(name)) return 'OpenSSL';
  if (/^(uv_|uv__)/.test(name)) return 'libuv';
  if (/^(nghttp2|nghttp3|ngtcp2)/.test(name)) return 'nghttp2/3, ngtcp2';
  if (/^(llhttp|llhttp__)/.test(name)) return 'llhttp';
  if (/^(deflate|inflate|zlib|crc32|adler32|zcalloc|zcfree|_tr_|Cr_z_|z_|gz)/i.test(name)) return 'zlib';
  if (/^(Brotli|kBrotli|kStaticDictionary|BrotliEncoder|brotli)/.test(name)) return 'brotli';
  if (/^(ZSTD|zstd|HUF_|FSE_|HIST_)/.test(name)) return 'zstd';
  if (/^(sqlite3|sqlite)/.test(name)) return 'sqlite';
  if (/^(ares_|ares__)/.test(name)) return 'c-ares';
  if (/^(simdutf|simdjson)/.test(name)) return 'simdutf/simdjson';
  if (/^(ucnv|ucol|ubrk|uloc|ures|udata|unorm|uprops|u_|ucase|uchar|ubidi|utrie|ucptrie|umutablecptrie|uhash|ustr|utext|uset|uenum|ucurr|udat|unum|uregex|uscript|ustrcase|icudt)/.test(name)) return 'ICU code';
  if (/^(hdr_|Hdr)/.test(name)) return 'hdr_histogram';
  return 'other';
}

/** KiB resident per group in each process, from its resident pages. */
export function byGroup(pages: number[], named: Range[], sectionList: Range[]): Map<string, number> {
  const groups = new Map<string, number>();
  let j = 0;
  for (const page of [...pages].sort((a, b) => a - b)) {
    // The symbol covering most of the page: walk the sorted list to the first that ends after it.
    while (j < named.length && named[j]!.end <= page) j++;
    let best = `unnamed in ${sectionList.find((r) => page >= r.start && page < r.end)?.name ?? 'no section (ELF headers)'}`;
    let most = 0;
    for (let k = j; k < named.length && named[k]!.start < page + PAGE; k++) {
      const overlap = Math.min(named[k]!.end, page + PAGE) - Math.max(named[k]!.start, page);
      if (overlap > most) [most, best] = [overlap, named[k]!.name];
    }
    const group = most > 0 ? groupOf(best) : best;
    groups.set(group, (groups.get(group) ?? 0) + PAGE / 1024);
  }
  return groups;
}

/** Every named range of `binary`: its symbols, with ICU's data split into its items. */
export function namedRanges(binary: string): Range[] {
  const all = symbols(binary);
  const icu = all.find((s) => /^icudt\d+_dat$/.test(s.name));
  if (!icu) return all;
  const items = icuItems(binary, icu).map((item) => ({ ...item, name: `icu data: ${item.name}` }));
  return [...all.filter((s) => s !== icu), ...items].sort((a, b) => a.start - b.start);
}

if (import.meta.main) {
  const pids = process.argv.slice(2).map(Number);
  if (pids.length === 0 || pids.some((p) => !Number.isInteger(p))) throw new Error('usage: node --import tsx bench/binary-pages.ts PID [PID…]');
  const binary = realpathSync(`/proc/${pids[0]}/exe`);
  const named = namedRanges(binary);
  const tables = pids.map((pid) => byGroup(residentPages(pid, binary), named, sections(binary)));
  const total = (t: Map<string, number>) => [...t.values()].reduce((a, b) => a + b, 0);
  const keys = [...new Set(tables.flatMap((t) => [...t.keys()]))].sort((a, b) => Math.max(...tables.map((t) => t.get(b) ?? 0)) - Math.max(...tables.map((t) => t.get(a) ?? 0)));
  console.log(`${binary}: resident pages by group, KiB`);
  console.log(`| group | ${pids.map((p, i) => (i === 0 ? `pid ${p}` : `pid ${p} (Δ)`)).join(' | ')} |\n|---|${'---|'.repeat(pids.length)}`);
  console.log(`| **total** | ${tables.map((t, i) => (i === 0 ? total(t).toFixed(0) : `${total(t).toFixed(0)} (${(total(t) - total(tables[0]!)).toFixed(0)})`)).join(' | ')} |`);
  for (const key of keys) {
    const cells = tables.map((t, i) => (i === 0 ? `${(t.get(key) ?? 0).toFixed(0)}` : `${(t.get(key) ?? 0).toFixed(0)} (${((t.get(key) ?? 0) - (tables[0]!.get(key) ?? 0)).toFixed(0)})`));
    if (tables.some((t) => (t.get(key) ?? 0) >= 16)) console.log(`| ${key} | ${cells.join(' | ')} |`);
  }
}
