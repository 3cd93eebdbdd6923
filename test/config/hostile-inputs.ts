/**
 * Repository configs built to stall or exhaust a shared app (found by a fault-injection run), each with the
 * config error it must end in: the message it starts with and the line it is reported on.
 */
export interface HostileInput {
  name: string;
  text: string;
  /** The start of the (first) issue's message. */
  message: string;
  line: number;
}

const image = (extra: string): string => `images:\n  - name: app\n${extra}`;
const repeat = (n: number, f: (i: number) => string): string => Array.from({ length: n }, (_, i) => f(i)).join("");

/** `a` holds nine strings, each next anchor nine aliases of the previous: 9^6 values once resolved. */
const aliasBomb =
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' +
  ["b", "c", "d", "e", "f"]
    .map((k, i) => `${k}: &${k} [${repeat(9, () => `*${"abcde"[i]},`).slice(0, -1)}]\n`)
    .join("") +
  "images: [{name: app}]\n";

export const HOSTILE_INPUTS: HostileInput[] = [
  {
    name: "extglob path filter that backtracks exponentially",
    text: image('    paths: ["+(+(+(+(+(+(a|aa))))))b"]\n'),
    message: 'images[0].paths[0]: "+(+(+(+(+(+(a|aa))))))b" uses extended glob syntax ("+(…)")',
    line: 3,
  },
  {
    name: "tag template {{ followed by 3,000 spaces",
    text: image(`    tags: ["{{${" ".repeat(3000)}"]\n`),
    message: "images[0].tags[0]: 3002 characters exceed the limit of 256",
    line: 3,
  },
  {
    name: "10,000 images in one file, 10,000 builds",
    text: `images:\n${repeat(10_000, (i) => `- {name: i${i}}\n`)}`,
    message: "the file is 158898 bytes, over the limit of 65536 bytes",
    line: 1,
  },
  {
    name: "5,000 images within the size limit",
    text: `images:\n${"- name: app\n".repeat(5000)}`,
    message: "images: 5000 entries exceed the limit of 50",
    line: 52,
  },
  {
    name: "a 5 MB file",
    text: image(`# ${"x".repeat(5 * 1024 * 1024)}\n`),
    message: "the file is 5242905 bytes, over the limit of 65536 bytes",
    line: 1,
  },
  {
    name: "100,000 nested [",
    text: "[".repeat(100_000),
    message: "the file is 100000 bytes, over the limit of 65536 bytes",
    line: 1,
  },
  {
    name: "60,000 nested [ within the size limit",
    text: `images:\n  - name: app\n    tags: ${"[".repeat(60_000)}\n`,
    message: "YAML nesting is deeper than the limit of 20 levels",
    line: 3,
  },
  {
    name: "30,000 nested block sequences on one line",
    text: `images:\n  - name: app\n    tags:\n      ${"- ".repeat(30_000)}x\n`,
    message: "YAML nesting is deeper than the limit of 20 levels",
    line: 4,
  },
  {
    name: "21 nested mappings (over the limit, under what the estimate stops)",
    text: `images: [{name: app}]\nx-deep:\n${repeat(19, (i) => `${"  ".repeat(i + 1)}k:\n`)}${"  ".repeat(20)}v: 1\n`,
    message: "YAML nesting is deeper than the limit of 20 levels",
    line: 22,
  },
  {
    name: "YAML alias bomb",
    text: aliasBomb,
    message: "YAML aliases expand to more than the limit of 100",
    line: 4,
  },
  {
    name: "over-long path pattern",
    text: image(`    paths:\n      - "${"a*".repeat(150)}"\n`),
    message: "images[0].paths[0]: 300 characters exceed the limit of 256",
    line: 4,
  },
  {
    name: "over-long push glob",
    text: image(`    push:\n      branches: ["${"b".repeat(257)}"]\n`),
    message: "images[0].push.branches[0]: 257 characters exceed the limit of 256",
    line: 4,
  },
  {
    name: "21 tags",
    text: image(`    tags:\n${repeat(21, (i) => `      - t${i}\n`)}`),
    message: "images[0].tags: 21 entries exceed the limit of 20",
    line: 24,
  },
  {
    name: "51 build args",
    text: image(`    build_args:\n${repeat(51, (i) => `      A${i}: x\n`)}`),
    message: "images[0].build_args: 51 entries exceed the limit of 50",
    line: 54,
  },
  {
    name: "51 path patterns",
    text: image(`    paths:\n${repeat(51, (i) => `      - d${i}/**\n`)}`),
    message: "images[0].paths: 51 entries exceed the limit of 50",
    line: 54,
  },
  {
    name: "a brace range of 100,000 globs",
    text: image('    paths: ["src/{1..100000}/**"]\n'),
    message: 'images[0].paths[0]: "src/{1..100000}/**" expands to more than 100 globs',
    line: 3,
  },
  {
    name: "braces multiplying to 2^40 globs",
    text: image(`    paths: ["${"{a,b}".repeat(40)}"]\n`),
    message: `images[0].paths[0]: "${"{a,b}".repeat(40)}" expands to more than 100 globs`,
    line: 3,
  },
  {
    name: "a list of patterns expanding to more than 100 globs together",
    text: image(`    paths:\n${repeat(11, (i) => `      - "d${i}/{a,b,c,d,e,f,g,h,i,j}"\n`)}`),
    message: 'images[0].paths[10]: "d10/{a,b,c,d,e,f,g,h,i,j}": with its {…} braces the list expands to more than 100 globs',
    line: 14,
  },
];
