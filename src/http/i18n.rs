//! The one dictionary of the web pages: every label in Chinese (the default) and English.

/// A page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// `en` switches to English; anything else is Chinese.
    pub fn from_query(q: Option<&str>) -> Self {
        if q == Some("en") { Lang::En } else { Lang::Zh }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// (key, Chinese, English).
const WORDS: &[(&str, &str, &str)] = &[
    (
        "map_title",
        "辖区监管责任制示意图",
        "Supervision responsibility map",
    ),
    ("grid", "网格", "Grid"),
    ("officer", "网格责任人", "Responsible officer"),
    ("partners", "协管人员", "Assisting officers"),
    ("area", "片区", "Area"),
    ("deputy", "片区负责人", "Area deputy"),
    ("key_industries", "重点行业主体", "Key-industry businesses"),
    (
        "no_plan",
        "尚无生效的网格方案。",
        "No grid plan is in force yet.",
    ),
    ("switch", "English", "中文"),
    ("plan", "网格方案", "Grid plan"),
    ("food", "食品", "food"),
    ("drugs", "药品", "drugs"),
    ("farm_supplies", "农资", "farm supplies"),
    ("flammable", "易燃易爆", "flammable"),
    ("internet_cafe", "网吧", "internet cafés"),
    ("entertainment", "娱乐场所", "entertainment"),
    ("hazardous", "危险品", "hazardous goods"),
    ("none", "无", "none"),
];

/// The label of `key` in `lang` (the key itself when the dictionary lacks it).
pub fn t(lang: Lang, key: &str) -> &str {
    WORDS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or(key, |(_, zh, en)| match lang {
            Lang::Zh => zh,
            Lang::En => en,
        })
}

/// Text made safe for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
