import concurrent.futures, hashlib, json, zlib
def job(i):
    d = {str(k): [k] * 20 for k in range(20000)}
    return hashlib.sha256(zlib.compress(json.dumps(d).encode())).hexdigest()
with concurrent.futures.ThreadPoolExecutor(4) as ex: print(len(list(ex.map(job, range(8)))))
