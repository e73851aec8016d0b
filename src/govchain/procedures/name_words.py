"""Word lists of the enterprise name check (``procedures.names``): organisational forms,
industry words, forbidden words with their reasons, and traditional character forms.

Sources: 《企业名称登记管理规定》 (2020) art. 5-12, its 实施办法 (2023), the former SAIC
《企业名称禁限用规则》 (2017) for misleading words, and the partnership and sole-proprietorship
registration rules for the forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_FORMS = (
    "有限公司",
    "有限责任公司",
    "股份有限公司",
    "分公司",
    "个人独资企业",
    "合伙企业（普通合伙）",
    "合伙企业（有限合伙）",
    "合伙企业（特殊普通合伙）",
    "（普通合伙）",
    "（有限合伙）",
    "（特殊普通合伙）",
    "农民专业合作社",
)
FORMS: tuple[str, ...] = tuple(sorted(_FORMS, key=len, reverse=True))
"""Organisational forms a name may end with, longest first (so the longest one matches)."""

_INDUSTRY_LINES = (
    # information technology
    "科技 网络 信息 技术 软件 电子 智能 数字 数据 数码 通信 系统 集成 物联网 云计算",
    # trade and retail
    "商贸 贸易 进出口 商务 商业 超市 便利店 百货 零售 批发 电子商务",
    # food, catering and drink
    "餐饮 食品 快餐 小吃 茶叶 茶业 茶饮 茶馆 咖啡 酒业 烟酒 果蔬 农产品 水产 粮油",
    # medicine and health
    "医药 药房 大药房 药业 医疗器械 健康 养生 保健",
    # transport and logistics
    "物流 供应链 运输 货运 快递 配送 仓储",
    # construction
    "建筑 工程 建设 装饰 装修 设计 劳务 园林 绿化 市政 安装",
    # resident services
    "美容 美发 理发 美甲 洗浴 足浴 家政 物业 维修 汽车",
    # accommodation and travel
    "酒店 宾馆 旅馆 民宿 住宿 旅游 旅行社",
    # culture, education and entertainment
    "文化 传媒 传播 广告 艺术 教育 培训 咨询 策划 会展 娱乐 休闲 体育 健身",
    # business and property
    "企业 管理 服务 实业 投资 控股 资产 人力资源 房地产 置业 开发 租赁 中心 工作室",
    # manufacturing and agriculture
    "服装 服饰 纺织 鞋业 机械 设备 制造 机电 五金 电器 家具 建材 材料 化工 塑料 包装",
    "印刷 环保 新能源 能源 农业 生物",
)
INDUSTRY_WORDS: frozenset[str] = frozenset(w for line in _INDUSTRY_LINES for w in line.split())
"""Words that may state the industry or business feature; the industry part of a name is a
sequence of them (``餐饮`` + ``管理``). None is a single character, so they never eat into a
two-character trade name."""

FORBIDDEN_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "中国": "the country's name is for names approved by the State Council (art. 12)",
        "中华": "the country's name is for names approved by the State Council (art. 12)",
        "中央": "reserved for names approved by the State Council (art. 12)",
        "全国": "reserved for names approved by the State Council (art. 12)",
        "国家": "reserved for names approved by the State Council (art. 12)",
        "国际": "suggests an international organisation or scope (art. 11(4), 12)",
        "联合国": "the name of an international organisation (art. 11(4))",
        "党": "the name of a political party (art. 11(3))",
        "军": "the armed forces or a military rank (art. 11(3))",
        "部队": "a military unit (art. 11(3))",
        "警": "the police or a police rank (art. 11(3))",
        "公安": "the public security organs (art. 11(3))",
        "政府": "the name of a state organ (art. 11(3))",
        "机关": "the name of a state organ (art. 11(3))",
        "人民": "reserved for people's congresses, governments, courts and procuratorates "
        "(art. 11(3))",
        "最高": "a superlative that may mislead the public (art. 11(8))",
        "最佳": "a superlative that may mislead the public (art. 11(8))",
        "顶级": "a superlative that may mislead the public (art. 11(8))",
        "第一": "a claim of first rank that may mislead the public (art. 11(8))",
        "特供": "a claim of special supply to state organs that may mislead (art. 11(8))",
        "专供": "a claim of special supply to state organs that may mislead (art. 11(8))",
        "国宴": "a claim of state-banquet status that may mislead (art. 11(8))",
        "央企": "a claim to be a central state-owned enterprise that may mislead (art. 11(8))",
        "驰名": "a claim of well-known trademark status that may mislead (art. 11(8))",
        "红十字": "the Red Cross name is protected by the Red Cross Law (art. 11(9))",
        "奥林匹克": "an Olympic symbol protected by regulation (art. 11(9))",
        "奥运": "an Olympic symbol protected by regulation (art. 11(9))",
        "赌博": "gambling content (art. 11(5))",
        "博彩": "gambling content (art. 11(5))",
        "色情": "pornographic content (art. 11(5))",
    }
)
"""Forbidden words and why (articles of 《企业名称登记管理规定》 2020)."""

TRADITIONAL: Mapping[str, str] = MappingProxyType(
    dict(
        zip(
            "華達興匯豐寶東龍誠順恆創萬國發廣電業貿漢傳網設藝農醫藥飲優聯車鳳麗陽億榮輝騰鴻運門開長實資產務術訊齊",
            "华达兴汇丰宝东龙诚顺恒创万国发广电业贸汉传网设艺农医药饮优联车凤丽阳亿荣辉腾鸿运门开长实资产务术讯齐",
            strict=True,
        )
    )
)
"""Traditional forms of characters common in trade names → the standard (simplified) form.
Names must use standard characters (art. 5); the map lets the check say which to use and
lets ``normalise_trade_name`` fold a traditional-form copy onto the original."""
