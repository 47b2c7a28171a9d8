//! The one i18n layer: every UI string is a [`Msg`] with an English and a Simplified
//! Chinese text, checked at compile time (a missing translation does not build).
//! The current [`Locale`] lives in a signal in context; switching it re-renders text in
//! place, without a reload.

use domain::Locale;
use leptos::prelude::*;

macro_rules! messages {
    ($($key:ident => $en:literal, $zh:literal;)*) => {
        /// A UI string.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Msg { $($key),* }

        impl Msg {
            /// The text of this message in `locale`.
            pub fn text(self, locale: Locale) -> &'static str {
                match (self, locale) {
                    $((Msg::$key, Locale::En) => $en, (Msg::$key, Locale::ZhCn) => $zh,)*
                }
            }
        }
    };
}

messages! {
    AppName => "Vigil", "Vigil";
    NavHome => "Overview", "总览";
    NavDashboards => "Dashboards", "仪表盘";
    NavAlerts => "Alerts", "告警";
    NavIncidents => "Incidents", "事故";
    NavOncall => "On-call", "值班";
    NavAdmin => "Admin", "管理";
    NavSettings => "Settings", "设置";
    SignOut => "Sign out", "退出登录";
    SignIn => "Sign in", "登录";
    SigningIn => "Signing in…", "正在登录…";
    SignInTitle => "Sign in to Vigil", "登录 Vigil";
    SignInSubtitle => "Product monitoring and incident response", "产品监控与事故响应";
    Email => "Email", "邮箱";
    Password => "Password", "密码";
    Name => "Name", "姓名";
    Role => "Role", "角色";
    Status => "Status", "状态";
    Actions => "Actions", "操作";
    Loading => "Loading…", "加载中…";
    Save => "Save", "保存";
    Saving => "Saving…", "保存中…";
    Saved => "Saved", "已保存";
    Create => "Create", "创建";
    Cancel => "Cancel", "取消";
    Language => "Language", "语言";
    SwitchLanguage => "中文", "English";
    TimeZone => "Time zone", "时区";
    Active => "Active", "启用";
    Disabled => "Disabled", "已停用";
    Disable => "Disable", "停用";
    Enable => "Enable", "启用";
    RoleViewer => "Viewer", "查看者";
    RoleResponder => "Responder", "响应者";
    RoleEditor => "Editor", "编辑者";
    RoleAdmin => "Admin", "管理员";
    ErrInvalidLogin => "Wrong email or password.", "邮箱或密码错误。";
    ErrRateLimited => "Too many failed attempts. Try again in", "失败次数过多，请稍后重试，剩余秒数：";
    Seconds => "seconds", "秒";
    ErrForbidden => "You do not have access to this page.", "你没有权限访问此页面。";
    ErrForbiddenHint => "Ask an administrator for a higher role.", "如需访问，请联系管理员提升角色。";
    ErrSessionExpired => "Your session has ended. Sign in again.", "会话已结束，请重新登录。";
    ErrGeneric => "Something went wrong.", "出错了。";
    ErrNotFound => "Not found", "未找到";
    ErrForbiddenAction => "You do not have permission to do this.", "你没有权限执行此操作。";
    ErrConflict => "Conflict:", "冲突：";
    ErrRequestFailed => "The request failed; check the connection and try again.", "请求失败，请检查网络后重试。";
    FieldRequired => "is required", "必填";
    FieldTooLong => "must be at most {n} characters", "最多 {n} 个字符";
    FieldNotHttpUrl => "must be an http:// or https:// address", "必须是 http:// 或 https:// 地址";
    FieldInTheFuture => "must not be in the future", "不能是将来的时间";
    FieldNotAfterStart => "must be after the start", "必须晚于开始时间";
    FieldTaken => "is already in use", "已被占用";
    NotFoundTitle => "Page not found", "页面不存在";
    NotFoundBody => "The page you asked for does not exist or has moved.", "你访问的页面不存在或已移动。";
    BackHome => "Back to overview", "返回总览";
    HomeTitle => "Overview", "总览";
    HomeWelcome => "Welcome", "欢迎";
    HomeOnCallNow => "On call now", "当前值班";
    HomeOnCallEmpty => "No schedules yet. On-call rotations will show who is on call here.", "暂无排班。配置值班轮换后，这里会显示当前值班人员。";
    HomeOpenIncidents => "Open incidents", "进行中的事故";
    HomeOpenIncidentsEmpty => "No open incidents.", "没有进行中的事故。";
    HomeFiringAlerts => "Firing alerts", "触发中的告警";
    HomeFiringAlertsEmpty => "No alerts are firing.", "没有触发中的告警。";
    Unanswered => "not acknowledged", "未确认";
    Paging => "paging", "呼叫中";
    NotPaged => "not paged", "未呼叫";
    Undo => "Undo", "撤销";
    PageWith => "Page", "呼叫";
    PageByRouting => "By level (routing tree)", "按级别（路由树）";
    PagedPeople => "Paged", "已呼叫";
    PageMore => "Page more people", "呼叫更多人";
    PagePolicies => "Escalation policies", "升级策略";
    PageSchedules => "Schedules (who is on call)", "排班（当前值班人）";
    PagePeople => "People", "人员";
    PageMoreHint => "A person or a schedule's on-call is paged through the channels of the policy that pages this incident, and waits for an acknowledgement like it.", "单个人员或排班值班人将通过本事件所用升级策略的渠道呼叫，并同样等待确认。";
    NobodyPaged => "Nobody has been paged for this incident.", "此事故尚未呼叫任何人。";
    Response => "Response", "响应";
    SilenceAlert => "Silence", "静默";
    AllFiring => "All firing alerts", "全部触发中的告警";
    FiringBadgeTitle => "Alerts firing now", "当前触发中的告警";
    DashboardsTitle => "Product dashboards", "产品仪表盘";
    DashboardsEmpty => "No product events yet", "还没有产品事件";
    DashboardsEmptyBody => "Send events to POST /api/v1/events with an ingest API key; registrations, DAU/MAU, retention, funnels and revenue will appear here.", "使用 ingest API Key 向 POST /api/v1/events 发送事件后，注册、DAU/MAU、留存、漏斗与收入指标将显示在这里。";
    AlertsTitle => "Alerting", "告警";
    AlertsEmpty => "No alert rules yet", "还没有告警规则";
    AlertsEmptyBody => "Editors define thresholds on product KPIs here; Vigil evaluates them every interval with Prometheus semantics.", "编辑者可在此为产品 KPI 设置阈值；Vigil 按 Prometheus 语义定期评估。";
    AlertsActive => "Firing now", "当前告警";
    AlertsRules => "Rules", "规则";
    AlertsHistory => "History", "历史";
    AlertsNoneFiring => "Nothing is firing", "没有触发中的告警";
    AlertsNoneFiringBody => "Alerts that are pending or firing appear here, most severe first.", "处于等待或触发状态的告警会显示在这里，按严重程度排序。";
    Severity => "Severity", "级别";
    Rule => "Rule", "规则";
    Value => "Value", "值";
    Since => "Since", "开始于";
    Labels => "Labels", "标签";
    StateFiring => "firing", "触发中";
    StatePending => "pending", "等待中";
    StateOk => "ok", "正常";
    NewRule => "New rule", "新建规则";
    EditRule => "Edit rule", "编辑规则";
    RuleEditor => "Rule editor", "规则编辑";
    Condition => "Condition", "条件";
    ConditionKind => "Kind", "类型";
    Comparison => "Comparison", "比较";
    Threshold => "Threshold", "阈值";
    Percent => "Change (%)", "变化（%）";
    NoDataFor => "No data for", "无数据时长";
    Samples => "Trailing samples", "历史样本数";
    LastValue => "Last value", "最近值";
    LastEvaluated => "Last evaluated", "最近评估";
    Query => "Query", "查询";
    Metric => "Metric", "指标";
    Window => "Window", "窗口";
    DailyMetricHint => "Daily metric: evaluated on the last complete day; the previous period is the day before.", "按天指标：评估最近一个完整日，上一周期为其前一天。";
    WindowMetricHint => "Rate over a trailing window ending now (whole hours); the previous period is the window before.", "截至当前的滑动窗口（整小时）内的比率；上一周期为前一个窗口。";
    Interval => "Evaluate every", "评估间隔";
    ForDuration => "For", "持续";
    KeepFiringFor => "Keep firing for", "保持触发";
    Summary => "Summary template", "摘要模板";
    SummaryHint => "Placeholders: {{ $value }}, {{ $threshold }}, {{ $labels.name }}", "占位符：{{ $value }}、{{ $threshold }}、{{ $labels.name }}";
    RunbookUrl => "Runbook URL", "处理手册链接";
    Description => "Description", "描述";
    RuleEnabled => "Enabled", "启用";
    OpenIncident => "Open an incident when firing", "触发时自动创建事故";
    ReadOnlyRule => "Editors can change rules; you can read them.", "只有编辑者可以修改规则，你可以查看。";
    Delete => "Delete", "删除";
    Backtest => "Backtest", "回测";
    FixFieldsForPreview => "Fix the highlighted fields to see the preview.", "请先修正标出的字段以查看预览。";
    WouldNotify => "notifications would have been sent", "条通知会被发送";
    FiringSpans => "firing spans", "段触发";
    PendingSpans => "pending spans", "段等待";
    NoDataInRange => "No data for this metric in the range.", "该时间范围内没有此指标的数据。";
    BacktestHint => "Evaluated once per hour (daily metrics: once per day) over the range, with `for` and `keep_firing_for`; repeats use the severity's default interval.", "在所选范围内每小时评估一次（按天指标每天一次），计入“持续”和“保持触发”；重复通知按级别的默认间隔计算。";
    KindThreshold => "Threshold", "阈值";
    KindDrop => "Drop vs previous (%)", "环比下降（%）";
    KindRise => "Rise vs previous (%)", "环比上升（%）";
    KindNoData => "No data", "无数据";
    KindZScore => "Anomaly (z-score)", "异常（z 分数）";
    KindPresent => "Any result (PromQL)", "有结果即告警（PromQL）";
    All => "All", "全部";
    Period => "Period", "时间段";
    NoHistory => "No alert state changes match.", "没有匹配的告警状态变化。";
    Silences => "Silences", "静默";
    Source => "Source", "数据源";
    SourceKpi => "Product KPI", "产品 KPI";
    SourceProbe => "HTTP probe", "HTTP 探测";
    Probe => "Probe", "探测";
    EveryProbe => "Every probe", "全部探测";
    ProbeStatistic => "Statistic", "统计量";
    ShortWindow => "Short window", "短窗口";
    ProbeRuleHint => "Each probe is an alert instance (label probe=<name>). up is 1 or 0 for the last check; burn_rate is the error rate ÷ the 0.1 % budget over both windows (the smaller of the two), so \"> 14.4\" over 1h/5m is the SRE workbook's fast-burn page.", "每个探测是一个告警实例（标签 probe=<名称>）。up 表示最近一次检查为 1 或 0；burn_rate 为两个窗口上错误率 ÷ 0.1% 预算中较小者，因此 1h/5m 上“> 14.4”即 SRE 手册中的快速消耗告警。";
    NavTechnical => "Technical", "技术";
    TechnicalTitle => "Technical", "技术指标";
    TechnicalSubtitle => "HTTP probes: availability, latency, errors and the 99.9 % / 30-day error budget", "HTTP 探测：可用性、延迟、错误率与 99.9% / 30 天错误预算";
    ProbesEmpty => "No probes yet", "还没有探测";
    ProbesEmptyBody => "Add an HTTP check of a health endpoint. Vigil runs it every interval, keeps 30 days of results, and the default rules alert on latency, errors, downtime and SLO burn rate.", "添加一个健康检查端点的 HTTP 探测。Vigil 按间隔执行并保留 30 天结果，默认规则会对延迟、错误、宕机与 SLO 消耗速率告警。";
    NewProbe => "New probe", "新建探测";
    EditProbe => "Edit probe", "编辑探测";
    ProbeUp => "Up", "正常";
    ProbeDown => "Down", "故障";
    NotCheckedYet => "Not checked yet", "尚未检查";
    Availability24h => "Availability 24 h", "24 小时可用性";
    Availability30d => "Availability 30 d", "30 天可用性";
    LatencyPercentiles => "Latency P50 / P95 / P99 (24 h)", "延迟 P50 / P95 / P99（24 小时）";
    ErrorRate1h => "Error rate 1 h", "1 小时错误率";
    Downtime24h => "Downtime 24 h", "24 小时宕机时长";
    ErrorBudget => "Error budget left (99.9 % / 30 d)", "剩余错误预算（99.9% / 30 天）";
    BurnRates => "Burn-rate alerts", "消耗速率告警";
    BurnAlert => "Burn · windows", "消耗倍数 · 窗口";
    LongRate => "Long", "长窗口";
    ShortRate => "Short", "短窗口";
    PageAlert => "page", "呼叫";
    TicketAlert => "ticket", "工单";
    LastCheck => "Last check", "最近检查";
    Url => "URL", "URL";
    Method => "Method", "方法";
    Timeout => "Timeout", "超时";
    CheckEvery => "Check every", "检查间隔";
    EmailSmtp => "Email (SMTP)", "邮件（SMTP）";
    ExportYaml => "Export YAML", "导出 YAML";
    ImportYaml => "Import YAML", "导入 YAML";
    ExportHint => "PromQL rules in Prometheus' rule-file format (vigil rules export prints the same).", "Prometheus 规则文件格式的 PromQL 规则（与 vigil rules export 输出相同）。";
    ImportHint => "Paste a Prometheus rule file: alerting rules become PromQL rules (created, or updated by name); recording rules are skipped. Nothing is saved unless the whole file is valid.", "粘贴 Prometheus 规则文件：告警规则成为 PromQL 规则（按名称新建或更新）；记录规则会被跳过。整个文件有效时才会保存。";
    Import => "Import", "导入";
    Download => "Download", "下载";
    SmtpUrl => "SMTP server", "SMTP 服务器";
    SmtpUrlHint => "smtps://user:password@host:465 is TLS from the start; smtp://user:password@host:587?tls=required insists on STARTTLS; plain smtp://host:25 (no encryption) only for a relay on the same network.", "smtps://用户:密码@主机:465 全程 TLS；smtp://用户:密码@主机:587?tls=required 强制 STARTTLS；不加密的 smtp://主机:25 仅用于同一网络内的中继。";
    EmailFrom => "From", "发件人";
    EmailTo => "To (comma-separated)", "收件人（逗号分隔）";
    ExpectedStatus => "Expected status", "期望状态码";
    ExpectedStatusHint => "Codes or classes, e.g. 200, 2xx or 200,204,3xx", "状态码或类别，如 200、2xx 或 200,204,3xx";
    ProbeEnabled => "Run this probe", "启用此探测";
    TestNow => "Test now", "立即测试";
    Testing => "Testing…", "测试中…";
    ReadOnlyProbe => "Editors can change probes.", "编辑者才能修改探测。";
    LatencyChart => "Latency, 24 h (failed checks shaded)", "24 小时延迟（失败检查以阴影标出）";
    PromqlHint => "Every series of the result is an alert instance (its labels identify it); use a threshold or no-data condition. Needs VIGIL_PROMETHEUS_URL.", "结果中的每条序列都是一个告警实例（由其标签区分）；请使用阈值或无数据条件。需要配置 VIGIL_PROMETHEUS_URL。";
    Notifications => "Notifications", "通知";
    NoSilences => "No silences. Silence alerts during maintenance or while an incident is being handled.", "暂无静默。维护或处理事故期间可静默告警。";
    Matchers => "Matchers", "匹配条件";
    Comment => "Comment", "说明";
    Expire => "Expire", "结束";
    Duration => "Duration", "时长";
    CreateSilence => "New silence", "新建静默";
    SilenceNeedsResponder => "Responders and up can create silences.", "响应者及以上角色可以创建静默。";
    Channels => "Channels", "通知渠道";
    NoChannels => "No channels yet. Add a Feishu/Lark bot, a Slack webhook, an email address (SMTP) or a JSON webhook to receive alerts.", "还没有通知渠道。添加飞书机器人、Slack Webhook、邮件（SMTP）或 JSON Webhook 以接收告警。";
    Kind => "Kind", "类型";
    Signed => "signed", "已签名";
    SendTest => "Send test", "发送测试";
    TestSent => "Test message delivered.", "测试消息已送达。";
    ChannelsNeedAdmin => "Administrators add channels (they hold secrets).", "通知渠道由管理员添加（包含密钥）。";
    WebhookUrl => "Webhook URL", "Webhook 地址";
    SigningSecret => "Signing secret (optional)", "签名密钥（可选）";
    SigningSecretHint => "Feishu: the bot's signature secret. Webhook: sent as a Bearer token.", "飞书：机器人的签名校验密钥。Webhook：作为 Bearer Token 发送。";
    AddChannel => "Add channel", "添加渠道";
    RoutingPolicy => "Routing policy", "路由策略";
    PolicyHint => "Alertmanager semantics: route matchers (= != =~ !~), channels by name (empty = all), group_by, group_wait_ms, group_interval_ms, repeat_interval_ms (empty = per severity: P0 1 min, P1 5 min, P2 15 min, P3 1 h), continue, escalation_policy_id (pages people for what the route takes, inherited by child routes; a rule's own policy goes first); inhibit rules with source_matchers, target_matchers, equal.", "采用 Alertmanager 语义：路由匹配条件（= != =~ !~）、按名称指定渠道（为空表示全部）、group_by、group_wait_ms、group_interval_ms、repeat_interval_ms（为空时按级别：P0 1 分钟、P1 5 分钟、P2 15 分钟、P3 1 小时）、continue、escalation_policy_id（按升级策略呼叫值班人员，子路由继承；规则自带的策略优先）；抑制规则含 source_matchers、target_matchers、equal。";
    RouteHint => "The first matching route takes an alert (a child before its parent; siblings after it only with continue). Empty fields are inherited from the parent.", "告警由第一条匹配的路由接收（子路由优先于父路由；只有设置了 continue 才继续匹配后面的同级路由）。留空的字段继承父路由。";
    RouteDefaultTree => "The default routing of the SPEC is in force: P0 to phone and Feishu, P1 and P2 to Feishu, P3 to email in a daily digest (10:00 unless changed under Digests and reminders). A route whose channels do not exist sends to every enabled channel.", "当前使用默认路由：P0 发送到电话和飞书，P1、P2 发送到飞书，P3 以每日摘要发送到邮件（默认 10:00，可在“摘要与提醒”中修改）。路由所指的渠道都不存在时，发送到所有已启用的渠道。";
    RouteRoot => "Every alert", "所有告警";
    RouteMatchesAll => "(matches everything)", "（匹配全部）";
    RouteAllChannels => "every enabled channel", "所有已启用的渠道";
    RouteInherits => "the parent's channels", "继承父路由的渠道";
    RouteChannelOff => "disabled", "已停用";
    RouteChannelMissing => "no such channel", "渠道不存在";
    RoutePolicy => "Escalation policy", "升级策略";
    RouteMatchers => "Matchers", "匹配条件";
    RouteChannelsHint => "Names, separated by commas; empty: the parent's. Channels:", "渠道名称，用逗号分隔；留空则继承父路由。现有渠道：";
    RouteNoPolicy => "None (inherit)", "无（继承）";
    RouteRepeatDefault => "per level: P0 1m … P3 1h", "按级别：P0 1m … P3 1h";
    RouteContinue => "Continue: siblings after this route may take the alert too", "继续匹配：后面的同级路由也可以接收该告警";
    RouteInheritHint => "Durations like 30s, 5m, 4h; empty fields come from the parent route.", "时长写作 30s、5m、4h；留空则取父路由的设置。";
    RouteDigest => "daily digest", "每日摘要";
    RouteDigestHint => "Daily digest: collect what this route takes into one message a day (at the digest time below) instead of sending it at once", "每日摘要：该路由接收的告警不立即发送，而是每天在摘要时间（见下方）汇总为一条消息";
    RouteAddChild => "Add child", "添加子路由";
    MoveUp => "Move up", "上移";
    MoveDown => "Move down", "下移";
    RouteTester => "Test the routing", "路由测试";
    RouteTest => "Show where it goes", "查看去向";
    RouteSilenced => "Muted now by silence", "当前被静默：";
    RouteNobody => "reaches nobody: no enabled channel", "无人接收：没有已启用的渠道";
    RouteFellBack => "(none of the route's channels exists: every enabled channel)", "（路由所指的渠道都不存在：发送到所有已启用的渠道）";
    RouteExport => "Export as Alertmanager YAML", "导出为 Alertmanager YAML";
    RouteImport => "Import Alertmanager YAML", "导入 Alertmanager YAML";
    RouteImported => "Imported: the routing tree was replaced.", "已导入：路由树已替换。";
    Changes => "Changes", "变更";
    ChangeDeploy => "deploy", "发布";
    ChangeConfig => "config", "配置";
    ChangeFlag => "flag", "开关";
    BeforeDetection => "before detection", "早于发现";
    AfterDetection => "after detection", "晚于发现";
    NoChanges => "No changes recorded in this period.", "该时间段内没有记录的变更。";
    ChangesHowTo => "Deploy scripts record their deploys with an API key of scope changes (POST /api/v1/changes or vigil changes add); responders can record one here.", "发布脚本可使用 changes 权限的 API 密钥记录发布（POST /api/v1/changes 或 vigil changes add）；响应人员也可在此手动记录。";
    ChangesShown => "changes, newest first", "条变更，按时间倒序";
    Service => "Service", "服务";
    Version => "Version", "版本";
    Link => "Link", "链接";
    RecordChange => "Record a change", "记录变更";
    ChangesNeedResponder => "Responders and above can record changes.", "响应人员及以上角色可以记录变更。";
    IncChanges => "What changed", "相关变更";
    IncChangesScope => "Changes of the services of its alerts, from 24 h before detection:", "告警所属服务在发现前 24 小时起的变更：";
    IncChangesAll => "Its alerts name no service: changes of every service from 24 h before detection.", "关联告警未标明服务：显示发现前 24 小时起所有服务的变更。";
    IncNoChanges => "Nothing was recorded as changed.", "没有记录到变更。";
    ChartChanges => "Changes in this period (dashed lines on the charts)", "该时段的变更（图中虚线）";
    ScheduleTitle => "Digests and reminders", "摘要与提醒";
    ScheduleHint => "Sent by the engine once a day at these times, routed like alerts (source=\"reminder\"), never twice; a time missed while Vigil was stopped is caught up within 12 hours. Times are in the reporting time zone:", "由引擎每天在以下时间发送，与告警一样经路由树投递（source=\"reminder\"），不会重复发送；Vigil 停止期间错过的时间点会在 12 小时内补发。时间按报表时区：";
    ScheduleDigest => "Daily digest of the digest routes (P3 by default)", "摘要路由的每日摘要（默认 P3）";
    SchedulePostmortems => "Postmortems due within 24 hours or overdue, naming the incident commander", "24 小时内到期或已逾期的复盘（注明事件指挥官）";
    ScheduleActionItems => "Overdue action items, one message per owner", "逾期的改进项（每位负责人一条）";
    ScheduleWeekly => "Weekly incident review on Mondays: incidents by level, MTTA, MTTR, open action items", "每周一的事件周报：各级别事件、MTTA、MTTR、未完成的改进项";
    ScheduleWeeklyChannel => "Channel of the weekly review", "周报发送渠道";
    ScheduleByRouting => "Where the routing tree sends it", "按路由树发送";
    ScheduleDeadlines => "Response deadline missed (P0 30 min, P1 1 h, P2 4 h, P3 24 h with the incident still detecting): page the next escalation step now and tell the incident commander", "超过响应时限（P0 30 分钟、P1 1 小时、P2 4 小时、P3 24 小时内事件仍处于发现阶段）：立即呼叫下一级升级对象并通知事件指挥官";
    TimeOfDay => "Time of day", "时间";
    RouteJson => "Edit as JSON (inhibition rules)", "以 JSON 编辑（含抑制规则）";
    DeliveryLog => "Delivery log", "投递记录";
    NoDeliveries => "Nothing sent yet.", "尚未发送任何通知。";
    Channel => "Channel", "渠道";
    Attempts => "Attempts", "尝试次数";
    LastError => "Last error", "最近错误";
    NextAttempt => "next:", "下次：";
    ActionDone => "Done", "已完成";
    ActionInProgress => "In progress", "进行中";
    ActionTodo => "To do", "待开始";
    ActionItems => "Action items", "行动项";
    AddActionItem => "Add action item", "添加行动项";
    AddNote => "Add note", "添加备注";
    AddRow => "Add row", "添加一行";
    Appendix => "Appendix", "附录";
    BasicInfo => "Basic information", "基本信息";
    BasicInfoHint => "From the incident: edit it there.", "来自事故记录：请在事故页面修改。";
    IncidentTime => "Incident time", "事故时间";
    AssignRoles => "Assign roles", "分配角色";
    At => "At", "时间";
    BackToDraft => "Back to draft", "退回草稿";
    BrandImpact => "Brand impact", "品牌影响";
    BusinessImpact => "Business impact", "业务影响";
    BySeverityAndMonth => "By severity and month", "按级别和月份";
    CheckLevelCommander => "Confirm the level, appoint the IC", "确认事故级别，任命 IC";
    CheckTeam => "Form the response team, open a channel", "组建响应团队，建立沟通渠道";
    CheckImpact => "First impact assessment", "完成初步影响评估";
    CheckFixPlan => "Fix plan made, fixing started", "制定修复方案，开始修复";
    CheckProgressNotice => "Progress notice sent (P0/P1)", "P0/P1 事故进展通报";
    ChurnRisk => "Customer churn risk", "客户流失风险";
    ClockLate => "Late", "超时完成";
    ClockMet => "On time", "按时";
    ClockPending => "Pending", "待完成";
    Complaints => "Customer complaints", "客户投诉";
    Contact => "Contact", "联系方式";
    ContributingFactors => "Contributing factors (fishbone)", "关联因素（鱼骨图）";
    Copy => "Copy", "复制";
    DataImpact => "Data impact", "数据影响";
    DeclareIncident => "Declare incident", "宣布事故";
    Details => "Details", "详情";
    Detected => "Detected", "发现时间";
    DetectedHint => "Leave empty for now.", "留空表示现在。";
    DirectCause => "Direct cause", "直接原因";
    DownloadMarkdown => "Download Markdown", "下载 Markdown";
    Due => "due", "截止";
    DueDate => "Due date", "截止日期";
    Edit => "Edit", "编辑";
    Edited => "edited", "已编辑";
    Event => "Event", "事件";
    EventTime => "Event time", "事件时间";
    ExportMarkdown => "Export", "导出";
    FbEnvironment => "Environment (环)", "环（环境）";
    FbMachines => "Machines (机)", "机（机器）";
    FbMaterials => "Materials (料)", "料（数据与依赖）";
    FbMeasurement => "Measurement (测)", "测（测试与监控）";
    FbMethods => "Methods (法)", "法（流程与设计）";
    FbPeople => "People (人)", "人（人员）";
    FiveWhys => "5 whys", "5 个为什么";
    FixPlan => "Fix", "修复方案";
    Handling => "Handling", "处理过程";
    Immediate => "Immediate (AI-)", "立即行动 (AI-)";
    ImpactAssessment => "Impact", "影响评估";
    ImpactScope => "Impact scope", "影响范围";
    IncClosed => "Closed", "已关闭";
    IncDetecting => "Detecting", "检测中";
    IncDone => "Resolved or closed", "已解决或已关闭";
    IncFixing => "Fixing", "修复中";
    IncInvestigating => "Investigating", "调查中";
    IncMonitoring => "Monitoring", "监控中";
    IncOpen => "Open", "进行中";
    IncReports => "Reports", "报表";
    IncResolved => "Resolved", "已解决";
    IncRoleCommander => "Incident commander", "事故指挥官 (IC)";
    IncRoleCommsLead => "Comms lead", "传播负责人";
    IncRoleDba => "DBA", "DBA";
    IncRoleEngineer => "Engineers", "后端工程师";
    IncRoleOps => "Ops", "运维工程师";
    IncRoleTechLead => "Tech lead", "技术负责人";
    IncidentCount => "Incidents by severity", "各级别事故数";
    IncidentReport => "Incident report", "事故报告";
    IncidentWord => "Incident", "事故";
    IncidentsSubtitle => "Declare, run and close incidents; file postmortems.", "宣布、处理和关闭事故；在线填写复盘。";
    Left => "left", "剩余";
    Lessons => "Lessons", "经验教训";
    LinkedAlerts => "Linked alerts", "关联告警";
    LinksAlerts => "Alerts", "相关告警";
    LinksDocs => "Documents", "相关文档";
    LinksHint => "One link per line: an optional title, then the URL.", "每行一个链接：可选标题，后跟网址。";
    LinksLogs => "Logs", "相关日志";
    LongTerm => "Long-term (LI-)", "长期改进 (LI-)";
    Me => "Me", "我";
    MeasuresTaken => "Measures taken", "已采取的措施";
    MonitoringUntil => "Monitoring at least until", "至少监控到";
    MonitoringMet => "Minimum met: ready to resolve", "已满足最短监控时间，可解决";
    Month => "Month", "月份";
    Months => "months", "个月";
    MoveTo => "→", "→";
    Mtta => "MTTA (mean time to acknowledge)", "MTTA（平均响应时间）";
    MttaHint => "MTTA: detection to the first status change (response started). MTTR: detection to resolved.", "MTTA：从发现到首次状态变更（开始响应）。MTTR：从发现到解决。";
    Mttr => "MTTR (mean time to resolve)", "MTTR（平均解决时间）";
    MyActionItems => "My action items", "我的行动项";
    NegativeMentions => "Negative social media mentions", "社交媒体负面评价";
    NoActionItems => "No action items", "没有行动项";
    NoActionItemsBody => "Action items from postmortems (AI-… immediate, LI-… long-term) are tracked here until done.", "复盘中的行动项（AI- 立即、LI- 长期）会在此跟踪直到完成。";
    NoChannelsForReport => "Add a notification channel to send the report from here.", "添加通知渠道后可在此发送报告。";
    NoIncidentsInRange => "No incidents in this range.", "此时间范围内没有事故。";
    NoLinkedAlerts => "No alerts linked.", "没有关联告警。";
    NoMyActionItems => "No open action items assigned to you.", "没有分配给你的未完成行动项。";
    NoOverduePostmortems => "No postmortem is overdue.", "没有逾期的复盘。";
    NoteHint => "What happened, what was decided…", "发生了什么、做了什么决定……";
    OnePerLine => "List sections: one item per line.", "列表内容：每行一项。";
    OtherImpact => "Other business impact", "其他业务影响";
    Overdue => "overdue", "已逾期";
    OverdueOnly => "Overdue only", "仅逾期";
    OverduePostmortems => "Postmortems overdue", "逾期复盘";
    OverrideReason => "Reason to resolve early", "提前解决的原因";
    OverrideReasonHint => "Only needed before the monitoring period ends", "仅在监控期结束前需要";
    Owner => "Owner", "负责人";
    PlanProcess => "Process", "流程改进";
    PlanTechnical => "Technical", "技术改进";
    PlanTooling => "Tooling", "工具改进";
    PlanTraining => "Training", "培训改进";
    Plans => "Plans", "行动计划";
    PmDraft => "Draft", "草稿";
    PmInReview => "In review", "评审中";
    PmNotStarted => "Not started", "未开始";
    PmPublished => "Published", "已发布";
    Postmortem => "Postmortem", "复盘报告";
    PostmortemDue => "Postmortem due", "复盘截止";
    Preview => "Preview", "预览";
    Problem => "Problem", "问题";
    Publish => "Publish", "发布";
    ReadOnlyPostmortem => "You can read this postmortem; responders edit it.", "你可以阅读此复盘；响应者可编辑。";
    ReportSent => "Report sent.", "报告已发送。";
    Reporter => "reported by", "报告人";
    ResponseChecklist => "Response timeline", "响应时间线";
    ResponseDue => "Response due", "响应截止";
    RespondedAt => "responded", "已响应";
    ResponseRoles => "Response team", "响应团队";
    RevenueLost => "Revenue lost", "订单损失";
    RootCause => "Root cause", "根本原因";
    RootCauseAnalysis => "Root cause analysis", "根因分析";
    Search => "Search", "搜索";
    SendForReview => "Send for review", "提交评审";
    SendReport => "Send", "发送";
    ServicesAffected => "Services affected", "受影响服务";
    SeverityHint => "P0 all users, system down (respond in 30 min) · P1 core feature down (1 h) · P2 partial (4 h) · P3 minor (24 h)", "P0 系统完全不可用（30 分钟响应）· P1 核心功能不可用（1 小时）· P2 部分功能异常（4 小时）· P3 轻微问题（24 小时）";
    ShowReport => "Show the report (事故报告)", "查看事故报告";
    SlaClocks => "SLA clocks", "SLA 计时";
    SupportNeeded => "Support needed", "需要支持";
    TechnicalImpact => "Technical impact", "技术影响";
    Time => "Time", "时间";
    Timeline => "Timeline", "时间线";
    Title => "Title", "标题";
    Total => "Total", "合计";
    UserImpact => "User impact", "用户影响";
    UsersAffected => "Users affected", "受影响用户数";
    Verification => "Verification", "验证结果";
    WentBadly => "Went badly", "做得不好的地方";
    WentWell => "Went well", "做得好的地方";
    Why => "Why", "为什么";
    IncidentsTitle => "Incidents", "事故";
    IncidentsEmpty => "No incidents yet", "还没有事故";
    IncidentsEmptyBody => "No incident matches. Declared incidents (P0–P3) are listed here with their status, commander and duration.", "没有匹配的事故。已宣布的事故（P0–P3）会与状态、指挥官和持续时间一起列在这里。";
    Remove => "Remove", "移除";
    DayMon => "Mon", "周一";
    DayTue => "Tue", "周二";
    DayWed => "Wed", "周三";
    DayThu => "Thu", "周四";
    DayFri => "Fri", "周五";
    DaySat => "Sat", "周六";
    DaySun => "Sun", "周日";
    OncallOverride => "override", "替班";
    OncallUntil => "until", "至";
    OncallNobody => "Nobody (a gap in the schedule)", "无人值班（排班空档）";
    OncallPaging => "paging", "呼叫中";
    OncallAcknowledged => "acknowledged", "已确认";
    OncallRecovered => "recovered", "已恢复";
    OncallExhausted => "all steps paged, not acknowledged", "已呼叫全部步骤，未确认";
    OncallAck => "Acknowledge", "确认";
    OncallNoEscalations => "No escalations yet. Route an alert rule to an escalation policy and its pages show here.", "暂无升级记录。将告警规则路由到升级策略后，呼叫记录会显示在这里。";
    OncallPolicy => "Escalation policy", "升级策略";
    OncallStarted => "Started", "开始";
    OncallStep => "Step", "步骤";
    OncallPages => "Pages", "呼叫";
    OncallNewPolicy => "New escalation policy", "新建升级策略";
    OncallNewSchedule => "New schedule", "新建排班";
    OncallNext => "Next", "下一位";
    OncallNoShifts => "You have no shifts in the next 4 weeks.", "未来 4 周你没有值班。";
    OncallSchedule => "Schedule", "排班";
    OncallFrom => "From", "开始";
    OncallTo => "To", "结束";
    OncallNowBadge => "now", "当前";
    OncallNoPolicies => "No escalation policies yet.", "还没有升级策略。";
    OncallRepeat => "Repeat", "重复次数";
    OncallChannels => "Channels", "通知渠道";
    OncallRoutedRules => "Alert rules", "告警规则";
    OncallMyShifts => "My shifts", "我的值班";
    OncallMyShiftsHint => "The next 4 weeks, across schedules", "未来 4 周，所有排班";
    OncallEscalations => "Escalations", "升级与呼叫";
    OncallPolicies => "Escalation policies", "升级策略";
    OncallFeedButton => "New calendar link", "生成日历订阅链接";
    OncallFeedHint => "A secret iCalendar URL for Google Calendar, Outlook or Apple Calendar; a new link replaces the old one.", "用于 Google 日历、Outlook 或苹果日历的私密 iCalendar 地址；生成新链接后旧链接失效。";
    OncallPagingNow => "Paging now", "正在呼叫";
    OncallEarlier => "Earlier", "更早";
    OncallToday => "Today", "今天";
    OncallLater => "Later", "更晚";
    OncallTimesIn => "Times in", "时间按";
    OncallScheduleZone => "schedule zone", "排班时区";
    OncallOverrides => "Overrides", "替班";
    OncallFinal => "Final schedule", "最终排班";
    OncallNoOverrides => "No overrides in this range.", "此范围内没有替班。";
    OncallWho => "Who is on call", "值班人";
    OncallReplaces => "Instead of", "替换";
    OncallNote => "Note", "备注";
    OncallCalendar => "Calendar feed", "日历订阅";
    OncallFeedMade => "Current link made", "当前链接生成于";
    OncallAddOverride => "Add override", "添加替班";
    OncallOverrideHint => "Puts someone on call for a time. With \"instead of\", only where that person was on call.", "在一段时间内指定值班人。选择“替换”时，仅替换该人员原本的值班时段。";
    OncallReplacesAnyone => "Whoever is on call", "当时的值班人";
    OncallEditSchedule => "Edit schedule", "编辑排班";
    OncallLayersHint => "Layers are listed top first: where two layers have someone, the higher one wins. Overrides win over every layer.", "图层自上而下排列：两个图层同时有人时，上层优先。替班优先于所有图层。";
    OncallAddLayer => "Add layer", "添加图层";
    OncallMoveUp => "Move up", "上移";
    OncallLayer => "Layer", "图层";
    OncallRotation => "Rotation", "轮换";
    OncallEvery => "Every", "间隔";
    OncallHandoff => "First handoff (sets the handoff time)", "首次交接（决定交接时间）";
    OncallParticipants => "Participants, in order", "参与人（按顺序）";
    OncallAddPerson => "Add a person…", "添加人员…";
    OncallRestrictions => "Only during", "仅在以下时段";
    OncallRestrictionsHint => "Leave empty for all the time. An end at or before the start runs into the next day (23:00–09:00).", "留空表示全天。结束时间早于或等于开始时间时跨到次日（23:00–09:00）。";
    OncallAddWindow => "Add time window", "添加时段";
    OncallChannelsHint => "Chat pages go to Feishu/Slack channels, email pages through email channels, phone pages to webhooks (an SMS or voice gateway).", "聊天呼叫发送到飞书/Slack，邮件呼叫通过邮件渠道，电话呼叫发送到 Webhook（短信或语音网关）。";
    OncallNoChannels => "No notification channels yet: pages are recorded but not delivered.", "还没有通知渠道：呼叫会被记录，但不会送达。";
    OncallAddChannels => "Add a channel →", "添加渠道 →";
    OncallAddStep => "Add step", "添加步骤";
    OncallWaitMinutes => "Wait for an acknowledgement (minutes)", "等待确认（分钟）";
    OncallSchedulesOnCall => "Who is on call in", "以下排班的当前值班人";
    OncallPeople => "People", "人员";
    OncallContact => "Paging and calendar", "呼叫与日历";
    OncallContactHint => "How Vigil reaches you when an escalation pages you.", "升级呼叫你时，Vigil 如何联系你。";
    Phone => "Phone", "电话";
    FeishuId => "Feishu user id", "飞书用户 ID";
    OncallRules => "Notification rules", "通知规则";
    OncallAfterMinutes => "minutes after the page", "分钟后（从呼叫起）";
    OncallAddRule => "Add rule", "添加规则";
    OncallMethodChat => "Chat (Feishu/Slack)", "聊天（飞书/Slack）";
    OncallMethodEmail => "Email", "邮件";
    OncallMethodPhone => "Phone (SMS/voice gateway)", "电话（短信/语音网关）";
    OncallRulePolicy => "Page through", "呼叫策略";
    OncallRulePolicyNone => "Nobody (notifications only)", "不呼叫（仅通知）";
    OncallTitle => "On-call", "值班";
    OncallEmpty => "No schedules yet", "还没有排班";
    OncallEmptyBody => "Rotations, overrides and escalation policies will be managed here, with calendar feeds per person.", "轮换、替班和升级策略将在此管理，并为每个人提供日历订阅。";
    AdminTitle => "Administration", "系统管理";
    AdminUsers => "Users", "用户";
    AdminApiKeys => "API keys", "API 密钥";
    AdminAudit => "Audit log", "审计日志";
    AddUser => "Add user", "添加用户";
    InitialPassword => "Initial password", "初始密码";
    UserCreated => "User created.", "用户已创建。";
    You => "you", "你";
    ApiKeyName => "Key name", "密钥名称";
    Scope => "Scope", "权限范围";
    ScopeIngest => "ingest (send events)", "ingest（上报事件）";
    ScopeRead => "read (read-only API)", "read（只读 API）";
    ScopeChanges => "changes (deploy scripts recording changes)", "changes（发布脚本记录变更）";
    CreateKey => "Create key", "创建密钥";
    KeyShownOnce => "Copy this key now. It will not be shown again.", "请立即复制此密钥，之后将不再显示。";
    Revoke => "Revoke", "吊销";
    Revoked => "Revoked", "已吊销";
    NoApiKeys => "No API keys yet. Create an ingest key to send product events.", "还没有 API 密钥。创建一个 ingest 密钥以上报产品事件。";
    Prefix => "Prefix", "前缀";
    Created => "Created", "创建时间";
    LastUsed => "Last used", "最近使用";
    Never => "never", "从未";
    When => "When", "时间";
    Who => "Who", "操作人";
    Action => "Action", "动作";
    Target => "Target", "对象";
    Change => "Change", "变更";
    FilterAction => "Filter by action (e.g. user.)", "按动作筛选（如 user.）";
    Filter => "Filter", "筛选";
    OlderEntries => "Older entries", "更早的记录";
    NoAuditEntries => "No audit entries match.", "没有匹配的审计记录。";
    SettingsTitle => "Your settings", "个人设置";
    Preferences => "Preferences", "偏好";
    ChangePassword => "Change password", "修改密码";
    CurrentPassword => "Current password", "当前密码";
    NewPassword => "New password", "新密码";
    PasswordChanged => "Password changed.", "密码已修改。";
    TimesShownIn => "Times are shown in", "时间显示时区：";
    ComingSoon => "Coming in a later release", "即将推出";
    TabUser => "User behaviour", "用户行为";
    TabProduct => "Product & AI", "产品与 AI";
    TabBusiness => "Business", "商业";
    Range24h => "24 hours", "24 小时";
    Range7 => "7 days", "7 天";
    Range30 => "30 days", "30 天";
    Range90 => "90 days", "90 天";
    RangeCustom => "Custom", "自定义";
    From => "From", "开始";
    To => "To", "结束";
    Apply => "Apply", "应用";
    GranDay => "Day", "日";
    GranWeek => "Week", "周";
    GranMonth => "Month", "月";
    VsPrevious => "vs previous period", "较上一周期";
    Previous => "previous", "上期";
    NoChange => "no change", "持平";
    DashNoData => "No events in this period", "该时间段内没有事件";
    DashNoDataBody => "Pick a longer range, or send events to POST /api/v1/events. `vigil demo` loads 90 days of sample data.", "请选择更长的时间范围，或向 POST /api/v1/events 发送事件。运行 `vigil demo` 可加载 90 天示例数据。";
    CohortTitle => "Retention cohorts", "留存队列";
    CohortDay => "Cohort", "注册日";
    CohortSize => "Users", "用户数";
    FeaturesTitle => "Feature usage", "功能使用";
    Feature => "Feature", "功能";
    Users => "Users", "用户";
    Events => "Events", "事件";
    Penetration => "Penetration", "渗透率";
    NewFeaturePenetration => "7-day penetration from launch", "上线 7 日渗透率";
    NoFeatures => "No feature_* events in this period.", "该时间段内没有 feature_* 事件。";
    FunnelTitle => "Funnel", "漏斗";
    FunnelSteps => "Steps (event names, in order, comma-separated)", "步骤（事件名，按顺序，用逗号分隔）";
    FunnelWindow => "Conversion window (hours)", "转化窗口（小时）";
    FunnelRun => "Show funnel", "查看漏斗";
    FunnelFromStart => "of step 1", "占第 1 步";
    FunnelFromPrev => "of previous", "占上一步";
    FunnelDropOff => "Biggest drop-off", "流失最多";
    RatingsTitle => "Satisfaction ratings", "满意度评分分布";
    ChartActivity => "Active users", "活跃用户";
    ChartRegistrations => "Registrations", "注册数";
    ChartAiSuccess => "AI success rate per day", "每日 AI 成功率";
    ChartResponseP95 => "Response time P95 per day", "每日响应时间 P95";
    ChartSubscriptions => "New and cancelled subscriptions", "新增与取消订阅";
    ChartRevenue => "Revenue per day", "每日收入";
    KRegistrations => "Registrations", "注册数";
    KDauAvg => "DAU (average)", "日活（平均）";
    KWau => "WAU", "周活";
    KMau => "MAU", "月活";
    KStickiness => "Stickiness (DAU/MAU)", "粘性（DAU/MAU）";
    KRetD1 => "D1 retention", "次日留存";
    KRetD7 => "D7 retention", "7 日留存";
    KRetD30 => "D30 retention", "30 日留存";
    KDau => "DAU", "日活";
    KAiDialogs => "AI dialogs", "AI 对话数";
    KAiSuccess => "AI success rate", "AI 成功率";
    KP50 => "Response P50", "响应时间 P50";
    KP95 => "Response P95", "响应时间 P95";
    KP99 => "Response P99", "响应时间 P99";
    KKbCoverage => "Knowledge-base coverage", "知识库覆盖率";
    KTransfer => "Transfer to human", "转人工率";
    KResolution => "Resolution rate", "问题解决率";
    KSatisfaction => "Satisfaction (1–5)", "满意度（1–5）";
    KBadReview => "Bad-review rate", "差评率";
    KNps => "NPS", "NPS";
    KSubsNew => "New subscriptions", "新增订阅";
    KSubsCancelled => "Cancelled", "取消订阅";
    KSubsNet => "Net subscriptions", "净增订阅";
    KActiveSubs => "Active subscribers", "活跃订阅用户";
    KRenewal => "Renewal rate", "续费率";
    KChurn => "Churn (monthly)", "流失率（月）";
    KRevenue => "Revenue", "收入";
    KMrr => "MRR", "MRR（月经常性收入）";
    KFeaturePenetration => "Feature penetration", "功能渗透率";
    KFunnelConversion => "Funnel conversion", "漏斗转化率";
    AlertOnThis => "Alert on this", "为此设告警";
    AutoRefresh => "Auto-refresh", "自动刷新";
    TrafficTitle => "API traffic (Prometheus)", "API 真实流量（Prometheus）";
    TrafficNotConfigured => "Set VIGIL_PROMETHEUS_URL to see real request rate, error rate and latency per service beside the probes.", "设置 VIGIL_PROMETHEUS_URL 后，这里按服务显示真实请求量、错误率和延迟，与拨测并列。";
    TrafficEmpty => "Prometheus has no series for", "Prometheus 中没有这些指标的数据：";
    TrafficHint => "5-minute rates from", "5 分钟速率，来自";
    RequestRate => "Requests", "请求量";
    ErrorRate => "Error rate (5xx)", "错误率（5xx）";
    P50 => "P50", "P50";
    P95 => "P95", "P95";
    P99 => "P99", "P99";
    RefreshOff => "Off", "关闭";
    Refresh30s => "30 s", "30 秒";
    Refresh1m => "1 min", "1 分钟";
    Refresh5m => "5 min", "5 分钟";
    LastEventReceived => "Last event received", "最近一次收到事件：";
    JustNow => "just now", "刚刚";
    MinutesAgo => "min ago", "分钟前";
    NoEventReceived => "No event received yet: send events to POST /api/v1/events with an ingest key.", "尚未收到事件：用 ingest 密钥向 POST /api/v1/events 发送事件。";
    IngestionTitle => "Ingestion, last 24 h", "数据接入（最近 24 小时）";
    IngestionEmpty => "Nothing arrived in the last 24 hours.", "最近 24 小时没有收到数据。";
    Accepted => "accepted", "已接收";
    Duplicates => "duplicates", "重复";
    Rejected => "rejected", "已拒绝";
    RejectedByReason => "Rejected, by field", "拒绝原因（按字段）";
    PerHour => "Per hour", "按小时";
    Hour => "Hour", "小时";
    IngestKey => "Key", "密钥";
    KArpa => "ARPA (monthly)", "ARPA（月）";
    KLtv => "LTV", "LTV";
    MonthlyOf => "Monthly figure of", "月度数值：";
    MonthToDate => "month to date, to the range's end", "本月截至所选范围结束";
    VsMonthBefore => "vs the month before", "较上月";
    MonthsTitle => "Monthly figures", "月度数值";
    MonthsHelp => "Churn = subscribers at the month's start whose subscription ended in the month ÷ subscribers at its start. ARPA = the month's revenue ÷ MAU on its last day. LTV = ARPA ÷ churn. MRR counts a yearly plan as a twelfth. Money is per currency, never summed across currencies.", "流失率 = 月初订阅用户中当月订阅结束的人数 ÷ 月初订阅用户数。ARPA = 当月收入 ÷ 月末 MAU。LTV = ARPA ÷ 流失率。MRR 中年付按 1/12 计。金额按币种分列，不跨币种相加。";
    SubsAtStart => "Subscribers at start", "月初订阅用户";
    Churned => "Ended", "已流失";
    MauAtEnd => "MAU at end", "月末 MAU";
}

/// The label of a KPI, series or chart key sent by the server.
pub fn key_msg(key: &str) -> Option<Msg> {
    Some(match key {
        "registrations" => Msg::KRegistrations,
        "dau_avg" => Msg::KDauAvg,
        "dau" => Msg::KDau,
        "wau" => Msg::KWau,
        "mau" => Msg::KMau,
        "stickiness" => Msg::KStickiness,
        "retention_d1" => Msg::KRetD1,
        "retention_d7" => Msg::KRetD7,
        "retention_d30" => Msg::KRetD30,
        "ai_dialogs" => Msg::KAiDialogs,
        "ai_success_rate" => Msg::KAiSuccess,
        "response_p50" => Msg::KP50,
        "response_p95" => Msg::KP95,
        "response_p99" => Msg::KP99,
        "kb_coverage" => Msg::KKbCoverage,
        "transfer_to_human" => Msg::KTransfer,
        "resolution_rate" => Msg::KResolution,
        "satisfaction" => Msg::KSatisfaction,
        "bad_review_rate" => Msg::KBadReview,
        "nps" => Msg::KNps,
        "subs_new" => Msg::KSubsNew,
        "subs_cancelled" => Msg::KSubsCancelled,
        "subs_net" => Msg::KSubsNet,
        "active_subscribers" => Msg::KActiveSubs,
        "renewal_rate" => Msg::KRenewal,
        "churn" => Msg::KChurn,
        "revenue" => Msg::KRevenue,
        "mrr" => Msg::KMrr,
        "feature_penetration" => Msg::KFeaturePenetration,
        "funnel_conversion" => Msg::KFunnelConversion,
        "arpa" => Msg::KArpa,
        "ltv" => Msg::KLtv,
        "chart_activity" => Msg::ChartActivity,
        "chart_registrations" => Msg::ChartRegistrations,
        "chart_ai_success" => Msg::ChartAiSuccess,
        "chart_response_p95" => Msg::ChartResponseP95,
        "chart_subscriptions" => Msg::ChartSubscriptions,
        "chart_revenue" => Msg::ChartRevenue,
        _ => return None,
    })
}

/// The locale signal, provided at the root.
pub fn use_locale() -> RwSignal<Locale> {
    use_context::<RwSignal<Locale>>().unwrap_or_else(|| RwSignal::new(Locale::En))
}

/// A reactive text for `msg` in the current locale.
///
/// Never panics on a disposed locale signal: on the server, leptos_axum reads the page
/// `<Title>` after rendering, and under concurrent requests the root owner holding the
/// signal was occasionally disposed by then ("Tried to access a reactive value that has
/// already been disposed" in `TitleContext::as_string`, ~1 request in 1 000 at 32
/// concurrent page loads, dropping the connection). The locale seen at creation is the
/// fallback.
pub fn t(msg: Msg) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    let locale = use_locale();
    let initial = locale.try_get_untracked().unwrap_or_default();
    move || msg.text(locale.try_get().unwrap_or(initial))
}

/// The text for `msg` in the current locale, read once (for attributes and titles).
pub fn t_now(msg: Msg) -> &'static str {
    msg.text(use_locale().get_untracked())
}

/// The label of a role in the current locale.
pub fn role_msg(role: domain::Role) -> Msg {
    match role {
        domain::Role::Viewer => Msg::RoleViewer,
        domain::Role::Responder => Msg::RoleResponder,
        domain::Role::Editor => Msg::RoleEditor,
        domain::Role::Admin => Msg::RoleAdmin,
    }
}

/// Name of the cookie that remembers the UI language (read by SSR and by the browser).
pub const LANG_COOKIE: &str = "vigil_lang";

/// The locale to render with: the language cookie, else the browser's `Accept-Language`.
pub fn initial_locale() -> Locale {
    #[cfg(feature = "ssr")]
    {
        if let Some(parts) = use_context::<http::request::Parts>() {
            let cookie = parts
                .headers
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|c| cookie_value(c, LANG_COOKIE).and_then(|v| Locale::from_tag(&v)));
            if let Some(l) = cookie {
                return l;
            }
            if let Some(l) = parts
                .headers
                .get(http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Locale::from_accept_language)
            {
                return l;
            }
        }
        Locale::En
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        // SSR rendered with the language in <html lang>; start from the same one so that
        // hydration matches.
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|e| e.get_attribute("lang"))
            .and_then(|l| Locale::from_tag(&l))
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        Locale::En
    }
}

/// Finds `name=value` in a `Cookie` header.
pub fn cookie_value(header: &str, name: &str) -> Option<String> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_both_languages() {
        for msg in [Msg::NavDashboards, Msg::SignIn, Msg::AdminAudit] {
            assert!(!msg.text(Locale::En).is_empty());
            assert!(!msg.text(Locale::ZhCn).is_empty());
            assert_ne!(msg.text(Locale::En), msg.text(Locale::ZhCn));
        }
    }

    #[test]
    fn reads_cookies() {
        let h = "a=1; vigil_lang=zh-CN; vigil_session=abc";
        assert_eq!(cookie_value(h, "vigil_lang").as_deref(), Some("zh-CN"));
        assert_eq!(cookie_value(h, "missing"), None);
    }
}
