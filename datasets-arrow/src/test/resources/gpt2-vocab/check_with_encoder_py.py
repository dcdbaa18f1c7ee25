import json, regex
enc=json.load(open('/tmp/gpt3enc/package/encoder.json'))
merges=open('/tmp/gpt3enc/package/vocab.bpe',encoding='utf-8').read().split('\n')[1:-1]
ranks={tuple(m.split()):i for i,m in enumerate(merges)}
bs=list(range(ord("!"),ord("~")+1))+list(range(ord("¡"),ord("¬")+1))+list(range(ord("®"),ord("ÿ")+1))
cs=bs[:];n=0
for b in range(256):
    if b not in bs: bs.append(b); cs.append(256+n); n+=1
be=dict(zip(bs,map(chr,cs)))
pat=regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
def bpe(tok):
    word=tuple(tok)
    if len(word)<2: return word
    while True:
        pairs={(word[i],word[i+1]) for i in range(len(word)-1)}
        big=min(pairs,key=lambda p: ranks.get(p,float('inf')))
        if big not in ranks: break
        f,s=big;nw=[];i=0
        while i<len(word):
            try: j=word.index(f,i)
            except ValueError: nw.extend(word[i:]);break
            nw.extend(word[i:j]);i=j
            if word[i]==f and i<len(word)-1 and word[i+1]==s: nw.append(f+s);i+=2
            else: nw.append(word[i]);i+=1
        word=tuple(nw)
        if len(word)==1: break
    return word
def encode(t):
    ids=[]
    for m in regex.findall(pat,t):
        ids+= [enc[x] for x in bpe(''.join(be[b] for b in m.encode('utf-8')))]
    return ids
exp=json.load(open('expected.json'))
bad=sum(encode(e['text'])!=e['ids'] for e in exp)
print(len(exp),'strings', sum(len(e['ids']) for e in exp),'ids, diffs',bad)
