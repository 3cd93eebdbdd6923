import { test } from "node:test";
import assert from "node:assert/strict";
import { ansiToHtml } from "../../src/web/ansi-to-html.js";

const ESC = "\u001b";

test("plain text is escaped", () => {
  assert.equal(ansiToHtml(`<img src=x onerror="alert('1')"> & co`), "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt; &amp; co");
});

test("basic, bright and background colours become classes; reset ends them", () => {
  assert.equal(ansiToHtml(`${ESC}[31mred${ESC}[0m plain`), '<span class="ansi-fg-red">red</span> plain');
  assert.equal(ansiToHtml(`${ESC}[1;92;44mx${ESC}[39my`), '<span class="ansi-fg-bright-green ansi-bg-blue ansi-bold">x</span><span class="ansi-bg-blue ansi-bold">y</span>');
  assert.equal(ansiToHtml(`${ESC}[4munder${ESC}[24m over`), '<span class="ansi-underline">under</span> over');
  assert.equal(ansiToHtml(`${ESC}[mnone`), "none");
});

test("256-colour and true-colour codes become inline colours", () => {
  assert.equal(ansiToHtml(`${ESC}[38;5;196mx`), '<span style="color:#ff0000">x</span>');
  assert.equal(ansiToHtml(`${ESC}[38;5;9mx`), '<span class="ansi-fg-bright-red">x</span>');
  assert.equal(ansiToHtml(`${ESC}[48;2;1;2;300mx`), '<span style="background-color:#0102ff">x</span>');
  assert.equal(ansiToHtml(`${ESC}[38;5;244mx`), '<span style="color:#808080">x</span>');
});

test("text inside a coloured span is escaped too", () => {
  assert.equal(ansiToHtml(`${ESC}[31m<b>${ESC}[0m`), '<span class="ansi-fg-red">&lt;b&gt;</span>');
});

test("other escape sequences are dropped, carriage returns keep the last redraw", () => {
  assert.equal(ansiToHtml(`${ESC}[2K${ESC}[1Gdone ${ESC}]8;;https://x${ESC}\\link${ESC}]8;;${ESC}\\`), "done link");
  assert.equal(ansiToHtml("10%\r50%\r100%"), "100%");
  assert.equal(ansiToHtml("windows line\r"), "windows line");
});
