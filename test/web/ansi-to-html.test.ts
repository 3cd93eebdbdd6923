import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ansiToHtml } from "../../src/web/ansi-to-html.js";

const ESC = "\u001b";

test("plain text is escaped, quotes included", () => {
  assert.equal(ansiToHtml(`<img src=x onerror="alert('1')"> & co`), "&lt;img src=x onerror=&quot;alert(&#x27;1&#x27;)&quot;&gt; &amp; co");
});

test("basic and bright colours become the page's classes; reset ends them; styles are inline", () => {
  assert.equal(ansiToHtml(`${ESC}[31mred${ESC}[0m plain`), '<span class="ansi-red-fg">red</span> plain');
  assert.equal(
    ansiToHtml(`${ESC}[1;92;44mx${ESC}[39my`),
    '<span style="font-weight:bold" class="ansi-bright-green-fg ansi-blue-bg">x</span><span style="font-weight:bold" class="ansi-blue-bg">y</span>',
  );
  assert.equal(ansiToHtml(`${ESC}[4munder${ESC}[24m over`), '<span style="text-decoration:underline">under</span> over');
  assert.equal(ansiToHtml(`${ESC}[1;2;3mbdi${ESC}[0m`), '<span style="font-weight:bold;opacity:0.7;font-style:italic">bdi</span>');
  assert.equal(ansiToHtml(`${ESC}[mnone`), "none");
});

test("256-colour and true-colour codes become inline colours", () => {
  assert.equal(ansiToHtml(`${ESC}[38;5;196mx`), '<span style="color:rgb(255,0,0)">x</span>');
  assert.equal(ansiToHtml(`${ESC}[38;5;9mx`), '<span class="ansi-bright-red-fg">x</span>');
  assert.equal(ansiToHtml(`${ESC}[48;2;1;2;250mx`), '<span style="background-color:rgb(1,2,250)">x</span>');
  assert.equal(ansiToHtml(`${ESC}[38;5;244mx`), '<span style="color:rgb(128,128,128)">x</span>');
});

test("text inside a coloured span is escaped too", () => {
  assert.equal(ansiToHtml(`${ESC}[31m<b>${ESC}[0m`), '<span class="ansi-red-fg">&lt;b&gt;</span>');
});

test("styles do not leak from one line to the next", () => {
  assert.equal(ansiToHtml(`${ESC}[31mred, never reset`), '<span class="ansi-red-fg">red, never reset</span>');
  assert.equal(ansiToHtml("plain"), "plain");
  assert.equal(ansiToHtml(`cut short${ESC}[3`), "cut short");
  assert.equal(ansiToHtml("next"), "next");
  // An escape byte that starts no sequence (here, before another) is dropped alone; left in, it made the trailing
  // "]8;;" an OSC that ansi_up kept waiting for, swallowing the next line (found by the property below, in CI).
  assert.equal(ansiToHtml(`${ESC}${ESC}]8;;${ESC}  \\]8;;`), "]8;;");
  assert.equal(ansiToHtml("plain"), "plain");
});

test("other escape sequences are dropped, hyperlinks included; carriage returns keep the last redraw", () => {
  assert.equal(ansiToHtml(`${ESC}[2K${ESC}[1Gdone ${ESC}]8;;https://x${ESC}\\link${ESC}]8;;${ESC}\\`), "done link");
  assert.equal(ansiToHtml(`${ESC}]8;;javascript:alert(1)${ESC}\\click${ESC}]8;;${ESC}\\`), "click");
  assert.equal(ansiToHtml(`${ESC}]0;title<script>\u0007after ${ESC}(B${ESC}7x${ESC}[?25l`), "after x");
  assert.equal(ansiToHtml("10%\r50%\r100%"), "100%");
  assert.equal(ansiToHtml("windows line\r"), "windows line");
});

test("any input: only the converter's own spans are markup, and nothing carries over to the next line", () => {
  const piece = fc.constantFrom(ESC, "[", "]", ";", "m", "31", "38;5;", "48;2;1;2;3", "\u0007", "\\", "<", ">", "&", '"', "'", "x", " ", "\r", "8;;", "?25l", "K");
  const SPAN = /<span(?: style="[a-z0-9:;(),. -]+")?(?: class="[a-z -]+")?>|<\/span>/g;
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
      const html = ansiToHtml(pieces.join(""));
      assert.doesNotMatch(html.replace(SPAN, ""), /[<>"']/, html);
      assert.equal(ansiToHtml("plain"), "plain", `after ${JSON.stringify(pieces.join(""))}`);
    }),
    { numRuns: 2_000 },
  );
});
