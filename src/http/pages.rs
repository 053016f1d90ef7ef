//! Web pages, rendered on the server: HTML and inline SVG drawn from the geometry, no
//! script and nothing fetched from elsewhere, so they work offline.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::response::Html;
use serde::Deserialize;

use super::i18n::{Lang, escape, t};
use super::{ApiError, AppState, blocking};
use crate::app::public::PublicMap;

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
) -> Result<Html<String>, ApiError> {
    let lang = Lang::from_query(q.lang.as_deref());
    let map = blocking(move || app.public_map(&region)).await?;
    Ok(Html(render_map(&map, lang)))
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

/// Grids as SVG paths with their codes, equirectangular and fitted to `width` × `height`.
pub fn draw(shapes: &[Shape<'_>], width: f64, height: f64) -> String {
    let mut svg = String::new();
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(x, y) in shapes.iter().flat_map(|s| s.rings.iter().flatten()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !(x0 < x1 && y0 < y1) {
        return svg;
    }
    let k = ((y0 + y1) / 2.0).to_radians().cos();
    let scale = (width / ((x1 - x0) * k)).min(height / (y1 - y0));
    let px = |x: f64| (x - x0) * k * scale;
    let py = |y: f64| (y1 - y) * scale;
    for s in shapes {
        let mut d = String::new();
        let (mut cx, mut cy, mut n) = (0.0, 0.0, 0.0);
        for ring in s.rings {
            for (i, &(x, y)) in ring.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if i == 0 { "M" } else { "L" },
                    px(x),
                    py(y)
                );
                cx += px(x);
                cy += py(y);
                n += 1.0;
            }
            d.push_str("Z ");
        }
        let _ = write!(
            svg,
            "<path data-grid=\"{code}\" d=\"{d}\" fill=\"{fill}\" stroke=\"#444\" stroke-width=\"1\"><title>{title}</title></path>",
            code = escape(s.code),
            fill = escape(&s.fill),
            title = escape(&s.title),
        );
        if n > 0.0 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                cx / n,
                cy / n,
                escape(s.code)
            );
        }
    }
    svg
}

/// The map page: an SVG of the grids (equirectangular, fitted to the view) and a table.
pub fn render_map(map: &PublicMap, lang: Lang) -> String {
    let mut areas: Vec<&str> = map.grids.iter().filter_map(|g| g.area.as_deref()).collect();
    areas.sort_unstable();
    areas.dedup();
    let shapes: Vec<Shape<'_>> = map
        .grids
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
        .collect();
    let (width, height) = (800.0, 600.0);
    let svg = draw(&shapes, width, height);
    let mut rows = String::new();
    for g in &map.grids {
        let key: Vec<String> = g
            .key_industries
            .iter()
            .map(|(industry, n)| format!("{} {n}", t(lang, industry)))
            .collect();
        let _ = write!(
            rows,
            "<tr data-grid=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&g.code),
            escape(&g.code),
            escape(g.officer.as_deref().unwrap_or("—")),
            escape(&g.partners.join("、")),
            escape(g.area.as_deref().unwrap_or("—")),
            escape(g.deputy.as_deref().unwrap_or("—")),
            escape(&if key.is_empty() {
                t(lang, "none").to_owned()
            } else {
                key.join("，")
            }),
            escape(&if g.key_markets.is_empty() {
                t(lang, "none").to_owned()
            } else {
                g.key_markets.join("、")
            }),
        );
    }
    let other = if lang == Lang::Zh {
        "?lang=en"
    } else {
        "?lang=zh"
    };
    let body = if map.grids.is_empty() {
        format!("<p>{}</p>", t(lang, "no_plan"))
    } else {
        format!(
            "<svg viewBox=\"0 0 {width} {height}\" width=\"100%\" role=\"img\" aria-label=\"{title}\">{svg}</svg>\
             <table><thead><tr><th>{grid}</th><th>{officer}</th><th>{partners}</th><th>{area}</th><th>{deputy}</th><th>{key}</th><th>{markets}</th></tr></thead><tbody>{rows}</tbody></table>",
            title = t(lang, "map_title"),
            grid = t(lang, "grid"),
            officer = t(lang, "officer"),
            partners = t(lang, "partners"),
            area = t(lang, "area"),
            deputy = t(lang, "deputy"),
            key = t(lang, "key_industries"),
            markets = t(lang, "key_markets"),
        )
    };
    let links = format!(
        "<nav><a href=\"{other}\">{switch}</a> · <a href=\"/officer?lang={l}\">{officer}</a> · \
         <a href=\"/head?lang={l}\">{head}</a> · <a href=\"/manager?lang={l}\">{manager}</a> · \
         <a href=\"/login?lang={l}\">{sign_in}</a></nav>",
        l = if lang == Lang::En { "en" } else { "zh" },
        switch = t(lang, "switch"),
        officer = t(lang, "officer_page"),
        head = t(lang, "head_page"),
        manager = t(lang, "manager_page"),
        sign_in = t(lang, "sign_in"),
    );
    document(
        lang,
        &format!("{} · {}", t(lang, "map_title"), map.name),
        &format!(
            "{links}<h1>{title}</h1><p>{name} · {plan} {version}</p>{body}",
            title = t(lang, "map_title"),
            name = escape(&map.name),
            plan = t(lang, "plan"),
            version = map.plan_version.map_or_else(String::new, |v| v.to_string()),
        ),
        "60rem",
    )
    .0
}

/// A page: the document head every page shares, the body, and its widest width.
pub fn document(lang: Lang, title: &str, body: &str, max_width: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <link rel=\"icon\" href=\"data:,\">\
         <style>body{{font-family:sans-serif;margin:.6rem;max-width:{max_width}}}table{{border-collapse:collapse;width:100%;margin-top:.6rem}}\
         td,th{{border:1px solid #ccc;padding:.25rem;text-align:left}}li{{margin:.4rem 0}}fieldset{{margin:.4rem 0}}\
         label{{margin-right:.6rem}}.late{{color:#a00}}tr.total{{font-weight:bold}}nav{{float:right}}\
         .legend span{{padding:0 .5rem;margin-right:.2rem}}input,select,textarea,button{{font-size:1rem}}</style></head>\
         <body>{body}</body></html>",
        code = lang.code(),
        title = escape(title),
    ))
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
