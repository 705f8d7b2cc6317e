-- ferryman's route rules inside HAProxy (the haproxy traffic backend).
--
-- The frontend puts the rules of the table in force into txn.rules (looked up
-- in rules.map by the chosen slot backend); this action evaluates them in
-- order and, when one matches, names the version backend in txn.vbe.
--
-- Encoding (fields percent-encoded): "<user-header>|<rule>/<rule>..." where a
-- rule is "h,<header>,<value>,<backend>", "c,<cookie>,<value>,<backend>" or
-- "b,<buckets>,,<backend>".
--
-- User buckets must equal ferryman.platform.routes.user_bucket (BLAKE2b with
-- an 8-byte digest of the user id, read big-endian, mod 10000), so a user
-- keeps their version whichever backend routes them. HAProxy has no BLAKE2b,
-- so it is computed here (Lua 5.3 integers are 64-bit and wrap).

local IV = {
  0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
  0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
}

local SIGMA = {
  {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
  {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
  {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
  {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
  {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
  {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
  {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
  {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
  {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
  {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
}

local function rotr(x, n)
  return (x >> n) | (x << (64 - n))
end

local function mix(v, a, b, c, d, x, y)
  v[a] = v[a] + v[b] + x
  v[d] = rotr(v[d] ~ v[a], 32)
  v[c] = v[c] + v[d]
  v[b] = rotr(v[b] ~ v[c], 24)
  v[a] = v[a] + v[b] + y
  v[d] = rotr(v[d] ~ v[a], 16)
  v[c] = v[c] + v[d]
  v[b] = rotr(v[b] ~ v[c], 63)
end

local function compress(h, block, count, last)
  local m = {}
  for i = 0, 15 do
    m[i] = string.unpack("<i8", block, i * 8 + 1)
  end
  local v = {}
  for i = 0, 7 do
    v[i] = h[i]
    v[i + 8] = IV[i + 1]
  end
  v[12] = v[12] ~ count
  if last then
    v[14] = ~v[14]
  end
  for round = 0, 11 do
    local s = SIGMA[round % 10 + 1]
    mix(v, 0, 4, 8, 12, m[s[1]], m[s[2]])
    mix(v, 1, 5, 9, 13, m[s[3]], m[s[4]])
    mix(v, 2, 6, 10, 14, m[s[5]], m[s[6]])
    mix(v, 3, 7, 11, 15, m[s[7]], m[s[8]])
    mix(v, 0, 5, 10, 15, m[s[9]], m[s[10]])
    mix(v, 1, 6, 11, 12, m[s[11]], m[s[12]])
    mix(v, 2, 7, 8, 13, m[s[13]], m[s[14]])
    mix(v, 3, 4, 9, 14, m[s[15]], m[s[16]])
  end
  for i = 0, 7 do
    h[i] = h[i] ~ v[i] ~ v[i + 8]
  end
end

-- The first 8 bytes of BLAKE2b-64(text), as a string.
local function blake2b64(text)
  local h = {}
  for i = 0, 7 do
    h[i] = IV[i + 1]
  end
  h[0] = h[0] ~ 0x01010008 -- digest length 8, no key, fanout 1, depth 1
  local length = #text
  local offset = 0
  while length - offset > 128 do
    compress(h, text:sub(offset + 1, offset + 128), offset + 128, false)
    offset = offset + 128
  end
  local rest = text:sub(offset + 1)
  compress(h, rest .. string.rep("\0", 128 - #rest), length, true)
  return string.pack("<i8", h[0])
end

-- ferryman.platform.routes.user_bucket: the digest read big-endian, mod 10000.
local function user_bucket(user)
  local digest = blake2b64(user)
  local bucket = 0
  for i = 1, 8 do
    bucket = (bucket * 256 + digest:byte(i)) % 10000
  end
  return bucket
end

local function unquote(text)
  return (text:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

local parsed = {}
local parsed_count = 0

local function parse(spec)
  local rules = parsed[spec]
  if rules then
    return rules
  end
  local header, body = spec:match("^([^|]*)|(.*)$")
  rules = {user = unquote(header or "x-user-id"):lower()}
  for item in (body or ""):gmatch("[^/]+") do
    local kind, name, value, backend = item:match("^(%a),([^,]*),([^,]*),([^,]*)$")
    if kind then
      rules[#rules + 1] = {
        kind = kind,
        name = unquote(name),
        value = unquote(value),
        backend = unquote(backend),
      }
    end
  end
  if parsed_count > 1000 then
    parsed, parsed_count = {}, 0
  end
  parsed[spec] = rules
  parsed_count = parsed_count + 1
  return rules
end

local function cookies_of(headers)
  local found = {}
  local values = headers["cookie"]
  if values then
    for _, value in pairs(values) do
      for pair in value:gmatch("[^;]+") do
        local name, content = pair:match("^%s*([^=]+)=(.*)$")
        if name and found[name] == nil then
          found[name] = content:gsub("^%s+", ""):gsub("%s+$", ""):gsub('^"(.*)"$', "%1")
        end
      end
    end
  end
  return found
end

local function first(headers, name)
  local values = headers[name:lower()]
  return values and values[0]
end

core.register_action("ferryman_rules", {"http-req"}, function(txn)
  local spec = txn:get_var("txn.rules")
  if not spec then
    return
  end
  local rules = parse(spec)
  local headers = txn.http:req_get_headers()
  local cookies, bucket
  for _, rule in ipairs(rules) do
    if rule.kind == "h" then
      if first(headers, rule.name) == rule.value then
        txn:set_var("txn.vbe", rule.backend)
        return
      end
    elseif rule.kind == "c" then
      cookies = cookies or cookies_of(headers)
      if cookies[rule.name] == rule.value then
        txn:set_var("txn.vbe", rule.backend)
        return
      end
    elseif rule.kind == "b" then
      local user = first(headers, rules.user)
      if user then
        bucket = bucket or user_bucket(user)
        if bucket < tonumber(rule.name) then
          txn:set_var("txn.vbe", rule.backend)
          return
        end
      end
    end
  end
end)

-- The bucket of a user id, as a converter: %[req.hdr(x-user-id),lua.ferryman_bucket].
core.register_converters("ferryman_bucket", function(user)
  return tostring(user_bucket(user or ""))
end)
