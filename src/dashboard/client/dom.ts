/**
 * A tiny DOM builder: `h('td', { class: 'num' }, '3')`. No framework, no innerHTML (so no
 * injection from names or reasons typed by people), no inline styles (the page runs under a
 * Content-Security-Policy without 'unsafe-inline').
 */

export type Child = Node | string | number | null | undefined | false | Child[];
export type Attributes = Record<string, string | number | boolean | null | undefined | EventListener>;

function append(parent: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) for (const c of child) append(parent, c);
  else parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
}

function applyAttributes(element: Element, attributes: Attributes): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  applyAttributes(element, attributes);
  append(element, children);
  return element;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  applyAttributes(element, attributes);
  append(element, children);
  return element;
}

/** Replaces an element's children. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  const fragment = document.createDocumentFragment();
  append(fragment, children);
  parent.replaceChildren(fragment);
}

/** Sets text only when it changed (cheap keyed updates without layout churn). */
export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

export function setAttr(element: Element, name: string, value: string | null): void {
  if (value === null) {
    if (element.hasAttribute(name)) element.removeAttribute(name);
  } else if (element.getAttribute(name) !== value) element.setAttribute(name, value);
}

/**
 * Re-renders a panel while keeping keyboard focus: the focused element's `data-focus-key` is
 * looked up again after the render and focused.
 */
export function renderKeepingFocus(container: Element, render: () => void): void {
  const active = document.activeElement;
  const key =
    active instanceof HTMLElement && container.contains(active) ? active.dataset['focusKey'] : undefined;
  render();
  if (key) {
    const again = container.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(key)}"]`);
    again?.focus();
  }
}

/** "12 s ago" that stays true: refreshAges() rewrites it every second without re-rendering. */
export function ageText(
  at: number | null,
  format: (at: number | null, now: number) => string,
  now: number,
): HTMLSpanElement {
  const span = h('span', { class: 'age' }, format(at, now));
  if (at !== null) span.dataset['at'] = String(at);
  ageFormats.set(span, format);
  return span;
}

const ageFormats = new WeakMap<Element, (at: number | null, now: number) => string>();

export function refreshAges(root: Element, now: number): void {
  for (const span of root.querySelectorAll<HTMLElement>('span.age[data-at]')) {
    const format = ageFormats.get(span);
    if (format) setText(span, format(Number(span.dataset['at']), now));
  }
}
