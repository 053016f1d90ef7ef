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
    ("key_markets", "重点市场", "Key markets"),
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
    ("sign_in", "登录", "Sign in"),
    ("sign_out", "退出", "Sign out"),
    ("username", "用户名", "User name"),
    ("password", "密码", "Password"),
    ("today", "今日任务", "Today"),
    ("week", "本周任务", "This week"),
    ("due_by", "截止", "Due by"),
    ("overdue", "逾期", "Overdue"),
    ("class", "风险等级", "Risk class"),
    ("reasons", "分类依据", "Why this class"),
    ("record_visit", "录入巡查", "Record the visit"),
    ("visited_at", "巡查时间", "Visited at"),
    ("partner", "同行执法人员", "Partner officer"),
    ("pass", "符合", "pass"),
    ("fail", "不符合", "fail"),
    ("not_applicable", "不适用", "n/a"),
    ("note", "备注", "note"),
    ("finding", "发现问题", "Finding"),
    ("severity", "严重程度", "Severity"),
    ("minor", "轻微", "minor"),
    ("general", "一般", "general"),
    ("serious", "严重", "serious"),
    ("rectification", "整改", "Rectification"),
    ("on_the_spot", "当场整改", "fixed on the spot"),
    ("notice", "整改通知书", "rectification notice"),
    ("deadline", "整改期限", "deadline"),
    ("warning", "警示", "Warning"),
    ("issued", "发出", "issued"),
    ("lifted", "解除", "lifted"),
    ("photos", "照片", "Photos"),
    ("save", "提交", "Submit"),
    ("recorded", "已录入", "Recorded"),
    ("same_day", "当日录入", "entered the same day"),
    ("late_entry", "非当日录入", "entered late"),
    ("route", "路线", "Route"),
    ("kind", "类型", "Kind"),
    ("routine", "日常巡查", "routine"),
    ("special", "专项检查", "special"),
    ("targeted", "重点检查", "targeted"),
    ("follow_up", "复查", "follow-up"),
    (
        "wrong_login",
        "用户名或密码错误。",
        "Wrong user name or password.",
    ),
    (
        "qualification",
        "主体资格合法有效",
        "Legal, valid qualification",
    ),
    (
        "licence_display",
        "亮照经营、不出租出借执照",
        "Licence displayed, not lent or altered",
    ),
    (
        "annual_report_and_scope",
        "年报公示、不超范围经营",
        "Annual report done, within scope",
    ),
    (
        "consumer_interests_and_competition",
        "不损害消费者权益、无不正当竞争",
        "Consumers' interests, fair competition",
    ),
    (
        "product_quality_and_food_safety",
        "商品质量、食品安全、进货查验",
        "Product quality, food safety, ledgers",
    ),
    (
        "trademarks_and_pyramid_selling",
        "无商标侵权、无传销",
        "No trademark infringement or pyramid selling",
    ),
    ("advertising", "广告合法", "Lawful advertising"),
    ("contracts", "合同规范", "Contracts"),
    (
        "complaints_on_site",
        "现场受理投诉调解",
        "Complaints taken on site",
    ),
    (
        "exit_and_deregistration",
        "歇业清算注销",
        "Exit and deregistration",
    ),
    (
        "register_changes",
        "登记事项变化采集",
        "Register changes collected",
    ),
    ("other", "其他法定事项", "Other matters by law"),
    ("plan_page", "网格方案", "Grid plan"),
    ("status", "状态", "Status"),
    ("workload", "工作量", "Workload"),
    ("deviation", "偏差", "Deviation"),
    ("units", "基本单元", "Units"),
    ("move_unit", "调整单元", "Move a unit"),
    ("unit", "单元", "Unit"),
    ("to_grid", "调入网格", "To grid"),
    ("accept_imbalance", "允许超出均衡范围", "Accept imbalance"),
    ("move", "调整", "Move"),
    ("approve", "批准方案", "Approve the plan"),
    ("moved", "已调整", "Moved"),
    ("approved", "已批准", "Approved"),
    ("refused", "未调整", "Not moved"),
    ("draft", "草案", "draft"),
    ("retired", "已废止", "retired"),
    ("officer_page", "网格员", "Officer"),
    ("head_page", "局领导", "Bureau head"),
    ("manager_page", "巡查覆盖率", "Coverage"),
    ("period", "统计期间", "Period"),
    ("breakdown", "分组", "By"),
    ("show", "查看", "Show"),
    ("all_grids", "全部网格", "All grids"),
    ("industry", "行业", "Industry"),
    ("business", "市场主体", "Business"),
    ("coverage_map", "网格覆盖率图", "Coverage by grid"),
    ("nothing_due", "本期无应巡查任务", "nothing due"),
    ("report_table", "覆盖率明细", "Coverage table"),
    ("businesses", "主体数", "Businesses"),
    ("required", "应巡查次数", "Required"),
    ("done", "已巡查", "Done"),
    ("visits", "巡查记录", "Visits"),
    ("done_on_time", "按期完成", "Done on time"),
    ("on_time_rate", "按期率", "On time"),
    ("coverage", "覆盖率", "Coverage"),
    ("overdue_now", "当前逾期", "Overdue now"),
    ("never_inspected", "从未检查", "Never inspected"),
    ("same_day_rate", "当日录入率", "Same-day entry"),
    ("findings", "发现问题", "Findings"),
    ("notices_issued", "整改通知书", "Notices"),
    (
        "targeted_on_time",
        "投诉线索按期办结",
        "Leads closed in time",
    ),
    ("hours_needed", "所需工时", "Hours needed"),
    ("hours_available", "可用工时", "Hours available"),
    ("total", "合计", "Total"),
    ("unplaced", "未落图", "Not located"),
    ("trend", "覆盖率趋势（按月）", "Coverage by month"),
    ("latest_bulletin", "最新月通报", "Latest monthly bulletin"),
    ("no_bulletin", "尚无月通报。", "No monthly bulletin yet."),
    ("tasks_due", "应完成任务", "Tasks due"),
    ("complaints", "投诉举报", "Complaints"),
    ("top_two", "前两名", "top two"),
    ("bottom_two", "后两名", "bottom two"),
    ("downloads", "下载", "Downloads"),
    ("back", "返回", "Back"),
    (
        "in_progress",
        "本期尚未结束：应巡查次数含今后到期的任务",
        "period in progress: required includes tasks due later",
    ),
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

/// Text made safe for HTML, apostrophes included (`&#39;`). The pages' templates escape
/// what they splice themselves; this is for the one message whose quotes must be entities.
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
