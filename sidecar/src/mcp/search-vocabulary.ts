/**
 * The vocabulary that bridges how people ask for a tool and how tools describe themselves, for
 * `search_tools`. Deliberately generic (files, code hosting, chat, tickets, data): nothing here
 * names a particular server's tools.
 *
 * - {@link EQUIVALENT} words mean the same thing to a tool search; both the index and the query
 *   replace them by one canonical word, so "folder" meets "directory" at full weight.
 * - {@link RELATED} words often stand for others in a request ("show" for list or get, "add" for
 *   create or sum); only the query is widened with them, at a lower weight than its own words.
 */

/** Words ignored in names, descriptions and queries. */
export const STOP_WORDS = new Set(
  ('a an and any are as at be by can could do does for from how i if in into is it its me my of on or our please so some that the their them then ' +
    'there these this those to tool tools use used using via want we what whats when which will with would you your').split(' '),
);

/** Groups of words a tool search treats as one; the first of each group is the canonical form. */
const EQUIVALENT_GROUPS: readonly (readonly string[])[] = [
  ['directory', 'directories', 'folder', 'folders', 'dir', 'dirs'],
  ['file', 'files', 'document', 'documents', 'doc', 'docs'],
  ['repository', 'repositories', 'repo', 'repos'],
  ['pull request', 'pr', 'prs'],
  ['issue', 'issues', 'bug', 'bugs', 'ticket', 'tickets'],
  ['user', 'users', 'developer', 'developers', 'people', 'person', 'member', 'members', 'teammate', 'teammates'],
  ['image', 'images', 'picture', 'pictures', 'photo', 'photos'],
  ['reaction', 'reactions', 'react', 'emoji', 'emojis'],
  ['thread', 'threads', 'conversation', 'conversations', 'discussion', 'discussions'],
  ['compress', 'compresses', 'compressed', 'compression', 'shrink', 'zip', 'gzip', 'deflate'],
  ['size', 'sizes', 'large', 'larger', 'largest', 'big', 'bigger', 'biggest', 'small', 'smaller', 'smallest', 'space'],
  ['modify', 'modified', 'changed', 'altered'],
  ['allowed', 'permitted', 'permission', 'permissions', 'authorized'],
  ['multiple', 'several', 'many', 'simultaneously', 'batch'],
  ['recent', 'recently', 'lately', 'latest', 'newest'],
  ['delete', 'deletes', 'remove', 'removes', 'erase', 'purge'],
  ['environment', 'env'],
  ['variable', 'variables', 'var', 'vars'],
  ['sum', 'total', 'plus'],
  ['message', 'messages', 'saying', 'said'],
];

/** Everyday words → the words tool names and descriptions conventionally use instead. */
export const RELATED: Readonly<Record<string, readonly string[]>> = {
  show: ['list', 'get', 'read'],
  display: ['list', 'get'],
  all: ['list'],
  every: ['list'],
  enumerate: ['list'],
  inside: ['list', 'contents'],
  contents: ['read', 'list'],
  exist: ['list'],
  fetch: ['get', 'read'],
  retrieve: ['get', 'read'],
  read: ['get'],
  open: ['read', 'create'],
  look: ['read', 'get', 'search'],
  see: ['read', 'get'],
  view: ['read', 'get'],
  inspect: ['get', 'info'],
  lookup: ['get', 'search'],
  details: ['get', 'info'],
  edit: ['update', 'modify'],
  change: ['update', 'modify', 'edit'],
  replace: ['edit', 'update'],
  patch: ['update', 'edit'],
  rename: ['move'],
  close: ['update', 'state'],
  reopen: ['update', 'state'],
  find: ['search'],
  query: ['search'],
  locate: ['search'],
  make: ['create'],
  new: ['create'],
  add: ['create', 'sum'],
  start: ['create'],
  register: ['create'],
  save: ['write', 'create'],
  store: ['write'],
  copy: ['fork', 'clone'],
  approve: ['review'],
  ci: ['status', 'checks'],
  passed: ['status'],
  passing: ['status'],
  failing: ['status'],
  send: ['post', 'message'],
  tell: ['post', 'message', 'send'],
  notify: ['post', 'message'],
  announce: ['post', 'message'],
  post: ['create', 'send'],
  reply: ['replies'],
  replies: ['reply'],
  under: ['replies'],
  who: ['user'],
  team: ['channel', 'user'],
  touch: ['modify', 'access'],
  history: ['recent', 'list'],
  repeat: ['echo'],
  together: ['sum'],
  project: ['repository'],
  disk: ['file', 'write'],
};

const EQUIVALENT = new Map<string, string>();
for (const group of EQUIVALENT_GROUPS) for (const word of group) EQUIVALENT.set(word, group[0]!);

/** The canonical word(s) of a lowercase word: its group's first word, split where it has a space. */
export function canonical(word: string): string[] {
  const replaced = EQUIVALENT.get(word) ?? word;
  return replaced.split(' ');
}

/**
 * Words a query implies without saying: a number suggests numeric parameters ("add 17 and 25"),
 * a name with an extension a file ("notes.txt"), a #name a channel.
 */
export function impliedWords(query: string): string[] {
  const implied: string[] = [];
  if (/(^|\s)\d+(\.\d+)?(\s|$)/.test(query)) implied.push('number');
  if (/\b[\w-]+\.[a-z][a-z0-9]{0,4}\b/i.test(query)) implied.push('file');
  if (/(^|\s)#[\w-]+/.test(query)) implied.push('channel');
  return implied;
}
