"""Word pools and industry profiles of the synthetic demo data (``synthetic.py``).

The profiles give each industry its share of new companies, the words its names use, the items
of its business scope (worded as in SAMR's standard business-scope catalogue, 经营范围规范表述),
and plausible ranges for capital, staff, revenue per employee and taxes as a share of revenue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

SURNAMES = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程"
    "魏苏吕丁任沈钱金方俞汪章陆楼"
)
"""Surnames, most common first (the generator weights them by rank)."""
MALE_GIVEN = tuple("伟强磊洋勇杰涛明超斌鹏辉华建平刚浩宇俊峰波文飞凯毅晨旭志远哲睿晖")
"""Characters of men's given names."""
FEMALE_GIVEN = tuple("芳娜敏静丽艳娟霞燕玲婷雪琳慧颖倩洁红梅莉晶悦欣佳怡萍蕾璐瑶雯")
"""Characters of women's given names."""
TRADE_CHARACTERS = tuple(
    "恒瑞鑫华盛新达信安源泰和嘉宏汇丰博创力明德顺通诚益隆兴昌荣耀祥润晟睿卓远航宇凯腾辉永佳乐康宁锦越峰智融正星辰"
)
"""Characters of trade names: auspicious or ordinary, none part of a forbidden word."""
PHONE_PREFIXES = (
    *(f"13{d}" for d in range(10)),
    *(f"15{d}" for d in (0, 1, 2, 3, 5, 6, 7, 8, 9)),
    *("166", "173", "176", "177", "178"),
    *(f"18{d}" for d in range(10)),
    *("191", "198", "199"),
)
"""First three digits of mainland mobile numbers."""

DISTRICT_WEIGHTS: Mapping[str, int] = MappingProxyType(
    {
        "上城区": 10,
        "拱墅区": 10,
        "西湖区": 12,
        "滨江区": 10,
        "萧山区": 14,
        "余杭区": 14,
        "临平区": 7,
        "钱塘区": 6,
        "富阳区": 6,
        "临安区": 4,
        "桐庐县": 3,
        "淳安县": 2,
        "建德市": 2,
    }
)
"""Where people live and companies register (roughly by economic weight)."""

STREETS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "上城区": ("解放路", "庆春路", "清泰街", "望江路", "秋涛路", "钱江路"),
        "拱墅区": ("莫干山路", "湖墅南路", "大关路", "上塘路", "体育场路", "延安路"),
        "西湖区": ("文三路", "文二路", "天目山路", "教工路", "古墩路", "西溪路"),
        "滨江区": ("江南大道", "滨盛路", "江虹路", "长河路", "网商路", "浦沿路"),
        "萧山区": ("市心路", "金城路", "北干路", "建设一路", "通惠路"),
        "余杭区": ("文一西路", "五常大道", "良睦路", "龙潭路", "余杭塘路"),
        "临平区": ("迎宾路", "世纪大道", "星光街", "东湖路"),
        "钱塘区": ("学林街", "文泽路", "下沙路", "学源街"),
        "富阳区": ("金桥路", "桂花路", "江滨西大道", "春秋北路"),
        "临安区": ("钱王街", "衣锦街", "城中街", "万马路"),
        "桐庐县": ("迎春南路", "白云源路", "学圣路", "江南路"),
        "淳安县": ("新安大街", "环湖北路", "开发路", "千岛湖大道"),
        "建德市": ("严州大道", "新安东路", "洋溪路", "府前路"),
    }
)
"""A few real streets of each district (addresses are made up on them)."""


@dataclass(frozen=True, slots=True)
class Profile:
    """How companies of one industry look."""

    industry: str
    """GB/T 4754-2017 class (or division) code."""
    weight: int
    """Relative share of new companies."""
    words: tuple[str, ...]
    """Industry words their names use."""
    scope: tuple[str, ...]
    """Business scope items, the main one first."""
    capital_wan: tuple[int, int]
    """Registered capital range, in 10,000 yuan (万元)."""
    employees: tuple[int, int]
    """Staff range."""
    revenue_per_employee_wan: tuple[int, int]
    """Annual revenue per employee, in 10,000 yuan."""
    tax_bps: tuple[int, int]
    """Taxes paid as a share of revenue, in basis points."""


# One profile per block: "industry weight capital staff revenue/employee tax | industry words",
# ranges written lo-hi, then the business scope items on indented lines (main item first).
_TABLE = """
5212 5 10-500 3-40 30-120 80-250 | 商贸 超市
    食品销售 日用百货销售 日用品销售 五金产品零售 文具用品零售 化妆品零售 烟草制品零售
5213 6 10-100 2-12 40-150 80-200 | 便利店 商贸
    食品销售 日用百货销售 烟草制品零售 出版物零售 日用品销售
5223 2 10-100 2-10 30-100 50-150 | 果蔬 农产品
    食用农产品零售 新鲜水果零售 新鲜蔬菜零售 食品销售
5251 3 50-500 3-30 50-200 100-300 | 医药 大药房
    药品零售 第二类医疗器械销售 保健食品（预包装）销售 第一类医疗器械销售
    消毒剂销售（不含危险化学品）
5292 5 10-1000 2-50 50-300 100-300 | 电子商务 商贸
    互联网销售（除销售需要许可的商品） 日用百货销售 服装服饰零售 食品互联网销售
    电子产品销售
51 6 50-5000 3-60 100-600 50-200 | 贸易 商贸 进出口
    货物进出口 技术进出口 食品销售 日用百货销售 五金产品批发 建筑材料销售 电子产品销售
6210 7 10-500 5-80 15-40 150-400 | 餐饮管理 餐饮
    餐饮服务 食品销售 餐饮管理 外卖递送服务 酒类经营
6220 4 10-200 3-30 15-40 150-400 | 餐饮 快餐
    餐饮服务 食品销售 餐饮管理 外卖递送服务
6231 2 10-200 3-20 15-40 150-400 | 茶业 茶馆
    餐饮服务 茶具销售 食品销售 棋牌室服务
6232 2 10-200 3-20 20-50 150-400 | 咖啡 餐饮管理
    餐饮服务 食品销售 食用农产品零售 餐饮管理
6110 2 500-5000 30-300 20-60 300-600 | 酒店管理 酒店
    住宿服务 餐饮服务 酒店管理 会议及展览服务 停车场服务
6121 1 100-1000 8-40 20-60 300-600 | 酒店管理
    住宿服务 酒店管理 食品销售 洗染服务
6130 1 10-200 2-10 15-40 200-500 | 民宿 旅游
    住宿服务 餐饮服务 休闲观光活动 旅游开发项目策划咨询
6513 8 10-2000 3-200 30-120 300-900 | 网络科技 信息技术 软件 科技
    软件开发 技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广
    信息系统集成服务 网络技术服务 数据处理服务 人工智能应用软件开发
6531 3 50-2000 5-100 40-150 300-800 | 信息技术 智能科技
    信息系统集成服务 计算机系统服务 安全技术防范系统设计施工服务
    计算机软硬件及辅助设备零售 技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广
4710 3 500-5000 20-300 50-200 200-400 | 建筑工程 建设
    建设工程施工 施工专业作业 住宅室内装饰装修 建筑材料销售 园林绿化工程施工
5012 4 10-1000 5-60 30-100 200-400 | 装饰工程 装饰设计
    住宅室内装饰装修 建设工程设计 建筑装饰材料销售 家具销售 专业设计服务
4891 2 50-2000 5-60 40-150 200-400 | 园林工程 园林绿化
    园林绿化工程施工 城市绿化管理 花卉种植 土石方工程施工
5431 4 10-2000 5-120 30-100 150-350 | 物流 货运 运输
    道路货物运输（不含危险货物） 普通货物仓储服务（不含危险化学品等需许可审批的项目）
    装卸搬运 国内货物运输代理
5437 2 50-2000 10-150 30-100 150-350 | 供应链管理 物流
    城市配送运输服务（不含危险货物） 供应链管理服务 国内货物运输代理 装卸搬运
8040 4 10-100 3-20 10-30 150-400 | 美容美发 美容
    理发服务 生活美容服务 化妆品零售 美甲服务
8051 1 50-500 10-60 10-30 200-400 | 洗浴 休闲
    洗浴服务 足浴服务 食品销售 日用百货销售
8053 2 10-200 3-20 10-30 150-400 | 健康管理 养生
    养生保健服务（非医疗） 健康咨询服务（不含诊疗服务） 中医养生保健服务（非医疗） 足浴服务
8010 2 10-100 5-80 5-15 100-300 | 家政服务
    家政服务 家用电器安装服务 专业保洁、清洗、消毒服务 居民日常生活服务
9011 1 100-1000 10-60 15-40 300-700 | 娱乐 文化娱乐
    歌舞娱乐活动 餐饮服务 食品销售 组织文化艺术交流活动
72 5 10-1000 2-30 30-100 300-700 | 企业管理咨询 商务信息咨询
    企业管理咨询 信息咨询服务（不含许可类信息咨询服务） 市场营销策划 会议及展览服务
    企业形象策划
8393 2 10-500 3-40 15-40 200-500 | 文化艺术 教育科技
    业务培训（不含教育培训、职业技能培训等需取得许可的培训） 组织文化艺术交流活动
    教育咨询服务（不含涉许可审批的教育培训活动） 文艺创作
18 3 50-2000 10-200 20-60 200-500 | 服饰 服装
    服装制造 服饰制造 服装服饰批发 面料纺织加工 服装服饰零售
39 2 100-5000 20-300 40-150 200-500 | 电子 智能设备
    电子元器件制造 电子产品销售 智能家庭消费设备制造 电子专用设备制造
34 2 100-5000 10-200 40-120 200-500 | 机械设备 机械
    通用设备制造（不含特种设备制造） 机械设备销售 机械零件、零部件加工 五金产品制造
70 2 1000-5000 5-80 100-500 500-1200 | 房地产开发 置业
    房地产开发经营 物业管理 住房租赁 非居住房地产租赁
"""


def _range(text: str) -> tuple[int, int]:
    lo, hi = text.split("-")
    return int(lo), int(hi)


def _profiles(table: str) -> tuple[Profile, ...]:
    """Read the profile table (a header line, then indented scope lines, per profile)."""
    blocks: list[tuple[str, list[str]]] = []
    for line in table.strip("\n").splitlines():
        if line.startswith(" "):
            blocks[-1][1].extend(line.split())
        else:
            blocks.append((line, []))
    out = []
    for header, scope in blocks:
        numbers, words = header.split("|")
        code, weight, capital, staff, revenue, tax = numbers.split()
        out.append(
            Profile(
                code,
                int(weight),
                tuple(words.split()),
                tuple(scope),
                *map(_range, (capital, staff, revenue, tax)),
            )
        )
    return tuple(out)


PROFILES: tuple[Profile, ...] = _profiles(_TABLE)
"""Industry profiles, weighted like the mix of new companies (retail, catering, software,
construction, transport and services lead)."""
