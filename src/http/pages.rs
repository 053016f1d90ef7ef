//! Web pages, rendered on the server: HTML and inline SVG drawn from the geometry, no
//! script and nothing fetched from elsewhere, so they work offline. This file holds the
//! public map and what every page shares: the document shell, the map drawing, URL escaping.
//!
//! The pages are written as [maud] templates rather than in a template language of files
//! (askama): they are drawn from Rust data (SVG maps, tables, loops over grids), and maud
//! keeps them in Rust, type-checked and escaped by default at compile time, with no template
//! files to load at run time and no second syntax. Text spliced in with `(…)` is escaped;
//! `PreEscaped` marks the few strings that are already markup, each said where it is used.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;

use super::i18n::{Lang, t};
use super::{ApiError, AppState, blocking};
use crate::app::public::{PublicGrid, PublicMap};

#[derive(Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
}

/// Fills per area, in turn.
const FILLS: [&str; 8] = [
    "#cfe8f3", "#f6dcc2", "#d9ead3", "#ead1dc", "#fff2cc", "#d0e0e3", "#e6d8f0", "#f4cccc",
];

/// The public responsibility map of a region: no sign-in, no business-level data.
pub async fn public_map(
    State(app): State<AppState>,
    Path(region): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Markup, ApiError> {
    let lang = Lang::from_query(q.lang.as_deref());
    let map = blocking(move || app.public_map(&region)).await?;
    Ok(render_map(&map, lang))
}

/// A grid to draw: its rings (lon/lat), fill and hover title.
pub struct Shape<'a> {
    pub code: &'a str,
    pub rings: &'a [Vec<(f64, f64)>],
    pub fill: String,
    pub title: String,
}

/// Outer rings of a grid's polygons, lon/lat.
pub type Rings = Vec<Vec<(f64, f64)>>;

/// Each grid of a plan's GeoJSON: its code and the outer rings of its polygons.
pub fn plan_grids(plan: &serde_json::Value) -> Vec<(String, Rings)> {
    plan["features"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|f| {
            let code = f["properties"]["code"].as_str().unwrap_or_default();
            (code.to_owned(), crate::app::public::outer_rings(f))
        })
        .collect()
}

/// The equirectangular projection that fits every shape into the view.
struct Frame {
    x0: f64,
    y1: f64,
    /// Shrinks longitude by the cosine of the middle latitude.
    k: f64,
    scale: f64,
}

impl Frame {
    /// None when the shapes cover no area to fit.
    fn fit(shapes: &[Shape<'_>], width: f64, height: f64) -> Option<Self> {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &(x, y) in shapes.iter().flat_map(|s| s.rings.iter().flatten()) {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if !(x0 < x1 && y0 < y1) {
            return None;
        }
        let k = ((y0 + y1) / 2.0).to_radians().cos();
        let scale = (width / ((x1 - x0) * k)).min(height / (y1 - y0));
        Some(Frame { x0, y1, k, scale })
    }

    fn point(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (
            (x - self.x0) * self.k * self.scale,
            (self.y1 - y) * self.scale,
        )
    }

    /// A shape's SVG path, and the mean of its points where its code is written.
    fn path(&self, rings: &[Vec<(f64, f64)>]) -> (String, Option<(f64, f64)>) {
        let mut d = String::new();
        let (mut cx, mut cy, mut n) = (0.0, 0.0, 0.0);
        for ring in rings {
            for (i, &p) in ring.iter().enumerate() {
                let (x, y) = self.point(p);
                let _ = write!(d, "{}{x:.1},{y:.1} ", if i == 0 { "M" } else { "L" });
                cx += x;
                cy += y;
                n += 1.0;
            }
            d.push_str("Z ");
        }
        (d, (n > 0.0).then(|| (cx / n, cy / n)))
    }
}

/// Grids as SVG paths with their codes, equirectangular and fitted to `width` × `height`.
pub fn draw(shapes: &[Shape<'_>], width: f64, height: f64) -> Markup {
    let Some(frame) = Frame::fit(shapes, width, height) else {
        return html! {};
    };
    html! {
        @for s in shapes {
            @let (d, centre) = frame.path(s.rings);
            path data-grid=(s.code) d=(d) fill=(s.fill) stroke="#444" stroke-width="1" {
                title { (s.title) }
            }
            @if let Some((x, y)) = centre {
                text x=(format_args!("{x:.1}")) y=(format_args!("{y:.1}")) font-size="11"
                    text-anchor="middle" { (s.code) }
            }
        }
    }
}

/// The map page: an SVG of the grids (equirectangular, fitted to the view) and a table.
pub fn render_map(map: &PublicMap, lang: Lang) -> Markup {
    let body = html! {
        (map_nav(lang))
        h1 { (t(lang, "map_title")) }
        p { (map.name) " · " (t(lang, "plan")) " " @if let Some(v) = map.plan_version { (v) } }
        @if map.grids.is_empty() {
            p { (t(lang, "no_plan")) }
        } @else {
            svg viewBox="0 0 800 600" width="100%" role="img" aria-label=(t(lang, "map_title")) {
                (draw(&area_shapes(&map.grids), 800.0, 600.0))
            }
            (responsibility_table(&map.grids, lang))
        }
    };
    document(
        lang,
        &format!("{} · {}", t(lang, "map_title"), map.name),
        body,
        "60rem",
    )
}

/// The other language and every role's page.
fn map_nav(lang: Lang) -> Markup {
    let (other, l) = match lang {
        Lang::Zh => ("?lang=en", "zh"),
        Lang::En => ("?lang=zh", "en"),
    };
    html! {
        nav {
            a href=(other) { (t(lang, "switch")) } " · "
            a href={ "/officer?lang=" (l) } { (t(lang, "officer_page")) } " · "
            a href={ "/head?lang=" (l) } { (t(lang, "head_page")) } " · "
            a href={ "/manager?lang=" (l) } { (t(lang, "manager_page")) } " · "
            a href={ "/login?lang=" (l) } { (t(lang, "sign_in")) }
        }
    }
}

/// Each grid filled by its area (grey outside any area), titled by its officer.
fn area_shapes(grids: &[PublicGrid]) -> Vec<Shape<'_>> {
    let mut areas: Vec<&str> = grids.iter().filter_map(|g| g.area.as_deref()).collect();
    areas.sort_unstable();
    areas.dedup();
    grids
        .iter()
        .map(|g| Shape {
            code: &g.code,
            rings: &g.rings,
            fill: g
                .area
                .as_deref()
                .and_then(|a| areas.iter().position(|x| *x == a))
                .map_or_else(
                    || "#eeeeee".to_owned(),
                    |i| FILLS[i % FILLS.len()].to_owned(),
                ),
            title: format!("{} {}", g.code, g.officer.as_deref().unwrap_or("")),
        })
        .collect()
}

/// Who is responsible for each grid, and its key businesses and markets.
fn responsibility_table(grids: &[PublicGrid], lang: Lang) -> Markup {
    let or_none = |list: Vec<String>, sep: &str| {
        if list.is_empty() {
            t(lang, "none").to_owned()
        } else {
            list.join(sep)
        }
    };
    html! {
        table {
            thead { tr {
                @for key in ["grid", "officer", "partners", "area", "deputy", "key_industries", "key_markets"] {
                    th { (t(lang, key)) }
                }
            } }
            tbody {
                @for g in grids {
                    @let industries = g
                        .key_industries
                        .iter()
                        .map(|(industry, n)| format!("{} {n}", t(lang, industry)))
                        .collect();
                    tr data-grid=(g.code) {
                        td { (g.code) }
                        td { (g.officer.as_deref().unwrap_or("—")) }
                        td { (g.partners.join("、")) }
                        td { (g.area.as_deref().unwrap_or("—")) }
                        td { (g.deputy.as_deref().unwrap_or("—")) }
                        td { (or_none(industries, "，")) }
                        td { (or_none(g.key_markets.clone(), "、")) }
                    }
                }
            }
        }
    }
}

/// The style every page shares after its width: plain CSS, no markup to escape.
const STYLE: &str = "table{border-collapse:collapse;width:100%;margin-top:.6rem}\
     td,th{border:1px solid #ccc;padding:.25rem;text-align:left}li{margin:.4rem 0}fieldset{margin:.4rem 0}\
     label{margin-right:.6rem}.late{color:#a00}tr.total{font-weight:bold}nav{float:right}\
     .legend span{padding:0 .5rem;margin-right:.2rem}input,select,textarea,button{font-size:1rem}";

/// A page: the document head every page shares, the body, and its widest width.
pub fn document(lang: Lang, title: &str, body: Markup, max_width: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="icon" href="data:,";
                // STYLE is a constant of plain CSS, already safe to write as it is.
                style { "body{font-family:sans-serif;margin:.6rem;max-width:" (max_width) "}" (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
}

/// Text made safe inside a URL's path segment or query value.
pub fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
