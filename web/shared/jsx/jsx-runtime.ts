// Our JSX runtime (tsconfig `jsxImportSource: "#jsx"`): elements render straight to escaped HTML text on the server.
// Children and attribute values are always escaped; inline script and style cannot be written (strict CSP).
import { type Child, escapeHTML, renderChild, SafeHTML } from "./html.ts";

export type { Child };
export { SafeHTML };

type Props = Record<string, unknown> & { children?: Child };
type Component<P> = (props: P) => SafeHTML;

/** Elements with no end tag (HTML § 13.1.2): they take no children. */
const VOID = new Set([
  "area",
  "base",
  "br",
  "col",
  "embed",
  "hr",
  "img",
  "input",
  "link",
  "meta",
  "source",
  "track",
  "wbr",
]);
/** Attributes holding a URL: a `javascript:` URL there would be inline script. */
const URL_ATTRIBUTES = new Set(["href", "src", "action", "formaction", "poster", "cite"]);
const TAG = /^[a-z][a-z0-9-]*$/;
const ATTRIBUTE = /^[a-z][a-z0-9-]*$/;

export function jsx(type: string | Component<Props>, props: Props): SafeHTML {
  if (typeof type === "function") return type(props);
  if (!TAG.test(type)) throw new TypeError(`not an element name: ${type}`);
  let out = `<${type}`;
  for (const [name, value] of Object.entries(props)) {
    if (name === "children" || value === undefined || value === null || value === false) continue;
    out += renderAttribute(type, name, value);
  }
  out += ">";
  if (VOID.has(type)) {
    if (props.children !== undefined) throw new TypeError(`<${type}> takes no children`);
    return new SafeHTML(out);
  }
  // The only raw-text element allowed is an external <script src>: inline code is what the CSP forbids.
  if (type === "script" && props.children !== undefined) throw new TypeError("<script> takes only src");
  return new SafeHTML(`${out}${renderChild(props.children)}</${type}>`);
}

export const jsxs = jsx;

export function Fragment({ children }: { children?: Child }): SafeHTML {
  return new SafeHTML(renderChild(children));
}

function renderAttribute(tag: string, name: string, value: unknown): string {
  if (!ATTRIBUTE.test(name)) throw new TypeError(`not an attribute name: ${name}`);
  // Inline handlers and style attributes would need 'unsafe-inline'; behaviours and stylesheets do this instead.
  if (name === "style" || name.startsWith("on")) throw new TypeError(`<${tag} ${name}> is inline code`);
  if (value === true) return ` ${name}`;
  if (typeof value !== "string" && typeof value !== "number")
    throw new TypeError(`<${tag} ${name}> must be text, a number or a boolean`);
  const text = String(value);
  // Browsers strip ASCII whitespace and control characters before reading the scheme (URL Standard § 4.4).
  if (
    URL_ATTRIBUTES.has(name) &&
    /^javascript:/i.test([...text].filter((c) => c.charCodeAt(0) > 0x20).join(""))
  )
    throw new TypeError(`<${tag} ${name}> is a javascript: URL`);
  return ` ${name}="${escapeHTML(text)}"`;
}

type Value = string | number | boolean | null | undefined;

/** Attributes every element takes. `data-*` and `aria-*` are always allowed (TypeScript passes hyphenated names). */
interface GlobalAttributes {
  children?: Child;
  id?: string;
  class?: string;
  lang?: string;
  dir?: "ltr" | "rtl" | "auto";
  hidden?: boolean;
  inert?: boolean;
  tabindex?: number;
  role?: string;
  title?: string;
  translate?: "yes" | "no";
}
interface Void extends Omit<GlobalAttributes, "children"> {
  children?: never;
}
interface FormControl extends GlobalAttributes {
  name?: string;
  disabled?: boolean;
  form?: string;
  autofocus?: boolean;
}

// A namespace of types only: TypeScript looks for `JSX` here (jsxImportSource); nothing of it is emitted.
export declare namespace JSX {
  type Element = SafeHTML;
  interface ElementChildrenAttribute {
    children: unknown;
  }
  interface IntrinsicElements {
    html: GlobalAttributes & { lang: string };
    head: GlobalAttributes;
    body: GlobalAttributes;
    title: GlobalAttributes;
    meta: Void & { charset?: "utf-8"; name?: string; content?: string };
    link: Void & { rel: string; href: string; type?: string; sizes?: string; media?: string };
    script: Void & { src: string; type?: "module"; defer?: boolean; async?: boolean };
    noscript: GlobalAttributes;
    template: GlobalAttributes;
    main: GlobalAttributes;
    header: GlobalAttributes;
    footer: GlobalAttributes;
    nav: GlobalAttributes;
    section: GlobalAttributes;
    article: GlobalAttributes;
    aside: GlobalAttributes;
    div: GlobalAttributes;
    span: GlobalAttributes;
    p: GlobalAttributes;
    h1: GlobalAttributes;
    h2: GlobalAttributes;
    h3: GlobalAttributes;
    h4: GlobalAttributes;
    strong: GlobalAttributes;
    em: GlobalAttributes;
    small: GlobalAttributes;
    code: GlobalAttributes;
    kbd: GlobalAttributes;
    abbr: GlobalAttributes;
    br: Void;
    hr: Void;
    ul: GlobalAttributes;
    ol: GlobalAttributes & { start?: number; reversed?: boolean };
    li: GlobalAttributes;
    dl: GlobalAttributes;
    dt: GlobalAttributes;
    dd: GlobalAttributes;
    figure: GlobalAttributes;
    figcaption: GlobalAttributes;
    table: GlobalAttributes;
    caption: GlobalAttributes;
    thead: GlobalAttributes;
    tbody: GlobalAttributes;
    tfoot: GlobalAttributes;
    tr: GlobalAttributes;
    th: GlobalAttributes & {
      scope?: "col" | "row" | "colgroup" | "rowgroup";
      colspan?: number;
      rowspan?: number;
    };
    td: GlobalAttributes & { colspan?: number; rowspan?: number; headers?: string };
    a: GlobalAttributes & { href: string; rel?: string; hreflang?: string; download?: string | boolean };
    img: Void & { src: string; alt: string; width?: number; height?: number; loading?: "lazy" | "eager" };
    time: GlobalAttributes & { datetime: string };
    progress: GlobalAttributes & { value?: number; max?: number };
    details: GlobalAttributes & { open?: boolean };
    summary: GlobalAttributes;
    dialog: GlobalAttributes & { open?: boolean };
    form: GlobalAttributes & {
      action: string;
      method: "get" | "post" | "dialog";
      novalidate?: boolean;
      autocomplete?: "on" | "off";
    };
    fieldset: FormControl;
    legend: GlobalAttributes;
    label: GlobalAttributes & { for?: string };
    input: Omit<FormControl, "children"> & {
      children?: never;
      type?:
        | "text"
        | "password"
        | "email"
        | "tel"
        | "url"
        | "number"
        | "hidden"
        | "checkbox"
        | "radio"
        | "search";
      value?: Value;
      required?: boolean;
      readonly?: boolean;
      checked?: boolean;
      autocomplete?: string;
      inputmode?: "none" | "text" | "decimal" | "numeric" | "tel" | "search" | "email" | "url";
      pattern?: string;
      minlength?: number;
      maxlength?: number;
      size?: number;
      placeholder?: string;
      spellcheck?: "true" | "false";
    };
    button: FormControl & { type: "submit" | "button" | "reset"; value?: string; formaction?: string };
    select: FormControl & { required?: boolean; autocomplete?: string };
    option: GlobalAttributes & { value: string; selected?: boolean; disabled?: boolean };
    textarea: FormControl & { required?: boolean; rows?: number; maxlength?: number; autocomplete?: string };
    output: GlobalAttributes & { for?: string; name?: string };
  }
}
