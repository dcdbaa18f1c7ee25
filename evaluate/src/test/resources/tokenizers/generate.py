# Generates fuzz.jsonl: random strings and what sacrebleu 2.x's tokenizers (13a, intl, zh, char), Python's
# str.lower/str.split and rouge-score's tokenizer (no stemmer) make of them. The rules below restate those
# tools' regular expressions (sacrebleu tokenizers/tokenizer_re.py, tokenizer_13a.py, tokenizer_intl.py,
# tokenizer_zh.py; rouge_score/tokenize.py) and run them with Python's own re and the regex module.
import json, random, re
import regex

RE_13A = [
    (re.compile(r'([\{-\~\[-\` -\&\(-\+\:-\@\/])'), r' \1 '),
    (re.compile(r'([^0-9])([\.,])'), r'\1 \2 '),
    (re.compile(r'([\.,])([^0-9])'), r' \1 \2'),
    (re.compile(r'([0-9])(-)'), r'\1 \2 '),
]
def re_tok(line):
    for r, s in RE_13A:
        line = r.sub(s, line)
    return ' '.join(line.strip().split())
def tok13a(line):
    line = line.replace('<skipped>', '').replace('-\n', '').replace('\n', ' ')
    if '&' in line:
        line = line.replace('&quot;', '"').replace('&amp;', '&').replace('&lt;', '<').replace('&gt;', '>')
    return re_tok(f' {line} ')
RE_INTL = [
    (regex.compile(r'(\P{N})(\p{P})'), r'\1 \2 '),
    (regex.compile(r'(\p{P})(\P{N})'), r' \1 \2'),
    (regex.compile(r'(\p{S})'), r' \1 '),
]
def intl(line):
    for r, s in RE_INTL:
        line = r.sub(s, line)
    return ' '.join(line.split())
RANGES = [('\u3400', '\u4db5'), ('\u4e00', '\u9fa5'), ('\u9fa6', '\u9fbb'), ('\uf900', '\ufa2d'), ('\ufa30', '\ufa6a'),
    ('\ufa70', '\ufad9'), ('\u20000', '\u2a6d6'), ('\u2f800', '\u2fa1d'), ('\uff00', '\uffef'), ('\u2e80', '\u2eff'),
    ('\u3000', '\u303f'), ('\u31c0', '\u31ef'), ('\u2f00', '\u2fdf'), ('\u2ff0', '\u2fff'), ('\u3100', '\u312f'),
    ('\u31a0', '\u31bf'), ('\ufe10', '\ufe1f'), ('\ufe30', '\ufe4f'), ('\u2600', '\u26ff'), ('\u2700', '\u27bf'),
    ('\u3200', '\u32ff'), ('\u3300', '\u33ff')]
def zh(line):
    line = line.strip()
    out = ''
    for c in line:
        out += (' ' + c + ' ') if any(a <= c <= b for a, b in RANGES) else c
    return re_tok(out)
def char(line):
    return ' '.join(c for c in line)
def rouge(text):
    text = text.lower()
    text = re.sub(r'[^a-z0-9]+', ' ', text)
    return [t for t in re.split(r'\s+', text) if re.match(r'^[a-z0-9]+$', t)]

ALPHABET = list('abcXYZ019 .,-  ..,,--\'"()[]{}<>&;:/\\|!?@#$%^*_=+~`') + ['\t', '\n', '-\n', '&amp;', '&quot;',
    '&lt;', '<skipped>', '\u00a0', '\u2028', '\x1c', '\u3000', '\u2001', '\u2014', '\u201c', '\u2019', '\u2026',
    '\u20ac', '\u00bd', '\u216b', '\u0663', '\U0001d7d8', '\U0001f600', '\u4e2d', '\u6587', '\uff0c', '\u3002',
    '\u0130', '\u212a', '\u03a3', '\u00e9', '\u00df', '\u2f81', '\u2a6d', '\u2a6e', '\U00020001', '\u00b7', '\u2e3a']
random.seed(5)
with open('fuzz.jsonl', 'w', encoding='utf-8') as f:
    for i in range(500):
        s = ''.join(random.choice(ALPHABET) for _ in range(random.randint(0, 32)))
        f.write(json.dumps({'text': s, '13a': tok13a(s), 'intl': intl(s), 'zh': zh(s), 'char': char(s).split(),
                            'lower': s.lower(), 'rstrip': s.rstrip(), 'split': s.split(), 'rouge': rouge(s)},
                           ensure_ascii=True) + '\n')
