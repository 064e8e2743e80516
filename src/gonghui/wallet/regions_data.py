"""The pooling regions (统筹区) the wallet knows at start: GB/T 2260 codes and names.

Source of the codes and names: GB/T 2260 中华人民共和国行政区划代码, as kept current by the
Ministry of Civil Affairs (民政部《2023年中华人民共和国县以上行政区划代码》,
https://www.mca.gov.cn/mzsj/xzqh/2023/202301xzqh.html). All 34 province-level divisions are
listed; the prefecture-level divisions (and the province-administered county-level units that
form their own pooling region) only for the 14 provinces the seed article names.

Source of which regions were open: Workers' Daily, 2025-02-10, front page, 《14省117个统筹区实现
医保个人账户跨省共济》 (seed/000_dc12a1cdb008b1f2.txt): by 2025-02-04, 117 pooling regions in
14 provinces had opened the wallet, and 河北, 河南, 安徽, 西藏, 四川, 湖北 had opened it
province-wide. The article does not name the open cities of the other eight; the subsets marked
below are our own illustrative choice (capitals and large cities) that makes the count 117.
Each province or autonomous region also has a provincial pool (省本级), represented by its
province-level row; a municipality (直辖市) is one pool.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final

# The seed states the situation on this date; the dates regions actually opened are not in it.
SEED_STATE_ON: Final = date(2025, 2, 4)

# code → name, all 34 province-level divisions.
PROVINCES: Final = {
    "110000": "北京市",
    "120000": "天津市",
    "130000": "河北省",
    "140000": "山西省",
    "150000": "内蒙古自治区",
    "210000": "辽宁省",
    "220000": "吉林省",
    "230000": "黑龙江省",
    "310000": "上海市",
    "320000": "江苏省",
    "330000": "浙江省",
    "340000": "安徽省",
    "350000": "福建省",
    "360000": "江西省",
    "370000": "山东省",
    "410000": "河南省",
    "420000": "湖北省",
    "430000": "湖南省",
    "440000": "广东省",
    "450000": "广西壮族自治区",
    "460000": "海南省",
    "500000": "重庆市",
    "510000": "四川省",
    "520000": "贵州省",
    "530000": "云南省",
    "540000": "西藏自治区",
    "610000": "陕西省",
    "620000": "甘肃省",
    "630000": "青海省",
    "640000": "宁夏回族自治区",
    "650000": "新疆维吾尔自治区",
    "710000": "台湾省",
    "810000": "香港特别行政区",
    "820000": "澳门特别行政区",
}

MUNICIPALITIES: Final = frozenset({"110000", "120000", "310000", "500000"})
# Outside the mainland medical-insurance system: listed, never opened.
OUTSIDE_SYSTEM: Final = frozenset({"710000", "810000", "820000"})

# Prefecture-level divisions of the 14 provinces; codes ending 9xxx in the second pair (such
# as 419001 济源市, 429004 仙桃市) are county-level units administered by the province.
PREFECTURES: Final = {
    "130000": {
        "130100": "石家庄市", "130200": "唐山市", "130300": "秦皇岛市", "130400": "邯郸市",
        "130500": "邢台市", "130600": "保定市", "130700": "张家口市", "130800": "承德市",
        "130900": "沧州市", "131000": "廊坊市", "131100": "衡水市",
    },
    "150000": {
        "150100": "呼和浩特市", "150200": "包头市", "150300": "乌海市", "150400": "赤峰市",
        "150500": "通辽市", "150600": "鄂尔多斯市", "150700": "呼伦贝尔市",
        "150800": "巴彦淖尔市", "150900": "乌兰察布市", "152200": "兴安盟",
        "152500": "锡林郭勒盟", "152900": "阿拉善盟",
    },
    "320000": {
        "320100": "南京市", "320200": "无锡市", "320300": "徐州市", "320400": "常州市",
        "320500": "苏州市", "320600": "南通市", "320700": "连云港市", "320800": "淮安市",
        "320900": "盐城市", "321000": "扬州市", "321100": "镇江市", "321200": "泰州市",
        "321300": "宿迁市",
    },
    "340000": {
        "340100": "合肥市", "340200": "芜湖市", "340300": "蚌埠市", "340400": "淮南市",
        "340500": "马鞍山市", "340600": "淮北市", "340700": "铜陵市", "340800": "安庆市",
        "341000": "黄山市", "341100": "滁州市", "341200": "阜阳市", "341300": "宿州市",
        "341500": "六安市", "341600": "亳州市", "341700": "池州市", "341800": "宣城市",
    },
    "370000": {
        "370100": "济南市", "370200": "青岛市", "370300": "淄博市", "370400": "枣庄市",
        "370500": "东营市", "370600": "烟台市", "370700": "潍坊市", "370800": "济宁市",
        "370900": "泰安市", "371000": "威海市", "371100": "日照市", "371300": "临沂市",
        "371400": "德州市", "371500": "聊城市", "371600": "滨州市", "371700": "菏泽市",
    },
    "410000": {
        "410100": "郑州市", "410200": "开封市", "410300": "洛阳市", "410400": "平顶山市",
        "410500": "安阳市", "410600": "鹤壁市", "410700": "新乡市", "410800": "焦作市",
        "410900": "濮阳市", "411000": "许昌市", "411100": "漯河市", "411200": "三门峡市",
        "411300": "南阳市", "411400": "商丘市", "411500": "信阳市", "411600": "周口市",
        "411700": "驻马店市", "419001": "济源市",
    },
    "420000": {
        "420100": "武汉市", "420200": "黄石市", "420300": "十堰市", "420500": "宜昌市",
        "420600": "襄阳市", "420700": "鄂州市", "420800": "荆门市", "420900": "孝感市",
        "421000": "荆州市", "421100": "黄冈市", "421200": "咸宁市", "421300": "随州市",
        "422800": "恩施土家族苗族自治州", "429004": "仙桃市", "429005": "潜江市",
        "429006": "天门市", "429021": "神农架林区",
    },
    "440000": {
        "440100": "广州市", "440200": "韶关市", "440300": "深圳市", "440400": "珠海市",
        "440500": "汕头市", "440600": "佛山市", "440700": "江门市", "440800": "湛江市",
        "440900": "茂名市", "441200": "肇庆市", "441300": "惠州市", "441400": "梅州市",
        "441500": "汕尾市", "441600": "河源市", "441700": "阳江市", "441800": "清远市",
        "441900": "东莞市", "442000": "中山市", "445100": "潮州市", "445200": "揭阳市",
        "445300": "云浮市",
    },
    "500000": {},
    "310000": {},
    "510000": {
        "510100": "成都市", "510300": "自贡市", "510400": "攀枝花市", "510500": "泸州市",
        "510600": "德阳市", "510700": "绵阳市", "510800": "广元市", "510900": "遂宁市",
        "511000": "内江市", "511100": "乐山市", "511300": "南充市", "511400": "眉山市",
        "511500": "宜宾市", "511600": "广安市", "511700": "达州市", "511800": "雅安市",
        "511900": "巴中市", "512000": "资阳市", "513200": "阿坝藏族羌族自治州",
        "513300": "甘孜藏族自治州", "513400": "凉山彝族自治州",
    },
    "520000": {
        "520100": "贵阳市", "520200": "六盘水市", "520300": "遵义市", "520400": "安顺市",
        "520500": "毕节市", "520600": "铜仁市", "522300": "黔西南布依族苗族自治州",
        "522600": "黔东南苗族侗族自治州", "522700": "黔南布依族苗族自治州",
    },
    "540000": {
        "540100": "拉萨市", "540200": "日喀则市", "540300": "昌都市", "540400": "林芝市",
        "540500": "山南市", "540600": "那曲市", "542500": "阿里地区",
    },
    "620000": {
        "620100": "兰州市", "620200": "嘉峪关市", "620300": "金昌市", "620400": "白银市",
        "620500": "天水市", "620600": "武威市", "620700": "张掖市", "620800": "平凉市",
        "620900": "酒泉市", "621000": "庆阳市", "621100": "定西市", "621200": "陇南市",
        "622900": "临夏回族自治州", "623000": "甘南藏族自治州",
    },
}  # fmt: skip

# Opened everywhere, provincial pool included (the seed's six).
PROVINCE_WIDE: Final = frozenset({"130000", "410000", "340000", "540000", "510000", "420000"})

# The open subset elsewhere (our choice, see the module note): 2 + 19 regions.
PARTLY_OPEN: Final = frozenset(
    {
        "310000",
        "500000",
        "150100", "150200", "150600",
        "320100", "320200", "320500", "321300",
        "370100", "370200", "370600", "370700",
        "440100", "440300", "440600", "441900",
        "520100", "520300",
        "620100", "620200",
    }
)  # fmt: skip


def is_province_administered_county(code: str) -> bool:
    """GB/T 2260 gives county-level units under a province the prefecture digits 90."""
    return code[2:4] == "90"


def open_on_seed_date(code: str) -> bool:
    return code in PARTLY_OPEN or code[:2] + "0000" in PROVINCE_WIDE


def level_of(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    return "county" if is_province_administered_county(code) else "prefecture"


def seed_rows() -> list[dict[str, object]]:
    """Every region as a row of `wallet_regions`, open ones opened on the seed's date (the
    earliest date we know them open)."""
    at = datetime(2025, 2, 4, tzinfo=UTC)
    rows: list[dict[str, object]] = []
    for province, name in PROVINCES.items():
        divisions = {province: name, **PREFECTURES.get(province, {})}
        for code, division in divisions.items():
            rows.append(
                {
                    "code": code,
                    "province_code": province,
                    "name": division,
                    "level": level_of(code),
                    "wallet_opened_on": SEED_STATE_ON if open_on_seed_date(code) else None,
                    "version": 1,
                    "updated_at": at,
                }
            )
    return rows
