-- The `asp` command line, run as a separate process against a live aspd: every command,
-- its output in each format and its exit code (0 ok, 1 operation error, 2 usage).
-- The command is $ASP_CLI (build/bin/asp in the main build) or, in the other Lua
-- versions' runs, $ASP_LUA bin/asp with the LUA_PATH / LUA_CPATH of the run.
local asp = require "asp"
local aspd = require "support.aspd"

local SRC = os.getenv("ASP_SOURCE_DIR") or "."

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local CLI = os.getenv("ASP_CLI") and q(os.getenv("ASP_CLI"))
  or (q(os.getenv("ASP_LUA") or "lua") .. " " .. q(SRC .. "/bin/asp"))

local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute("mkdir -p " .. q(tmp)))

local function write(name, text)
  local path = tmp .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

local function slurp(path)
  local f = io.open(path)
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

-- Runs `asp <cmdline>` through sh; returns { code, out, err, lines, errlines }.
-- opts.env: "VAR=value ..." prefix; opts.stdin: text fed to stdin.
local function run(cmdline, opts)
  opts = opts or {}
  local stdin = opts.stdin and ("< " .. q(write("stdin", opts.stdin))) or "< /dev/null"
  local errf = tmp .. "/stderr"
  local sh = ("%s %s %s %s 2>%s; echo \"__rc=$?\""):format(opts.env or "", CLI, cmdline, stdin, q(errf))
  local p = assert(io.popen(sh))
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("__rc=(%d+)\n$"))
  out = out:gsub("__rc=%d+\n$", "")
  local r = { code = code, out = out, err = slurp(errf), lines = {}, errlines = {} }
  for l in out:gmatch("([^\n]*)\n") do r.lines[#r.lines + 1] = l end
  -- libmongoc's own log lines (e.g. its shared-memory counters warning) are not the CLI's
  for l in r.err:gmatch("([^\n]*)\n") do
    if not l:match("^%d+/%d+/%d+ [%d:.]+: %[%d+%]: +%u+: +mongoc:") then r.errlines[#r.errlines + 1] = l end
  end
  return r
end

local function ok(cmdline, opts)
  local r = run(cmdline, opts)
  assert(r.code == 0, ("asp %s: exit %s, stderr: %s"):format(cmdline, tostring(r.code), r.err))
  return r
end

local function json(r) return assert(asp.from_json(r.out)) end

local PIPELINE = [=[[{"$source": {"connectionName": "fast_solar"}}, {"$emit": {"connectionName": "__testLog"}}]]=]
local PIPELINE3 = [=[[{"$source": {"connectionName": "fast_solar"}},
  {"$match": {"group_id": {"$gte": 0}}}, {"$emit": {"connectionName": "__testLog"}}]]=]

describe("asp command line", function()
  local server, env

  setup(function()
    server = aspd.start({ connections = { { name = "fast_solar", type = "Sample", docsPerSecond = 50 } } })
    -- No configuration file of the user's can leak in: HOME and XDG point at the temp dir.
    env = ("ASP_URI=%s HOME=%s XDG_CONFIG_HOME= ASP_CONFIG= ASP_PROFILE="):format(q(server.uri), q(tmp))
  end)

  teardown(function()
    if server then server:stop() end
    os.execute("rm -rf " .. q(tmp))
  end)

  local function asp_ok(cmdline, opts)
    opts = opts or {}
    opts.env = (opts.env or "") .. " " .. env
    return ok(cmdline, opts)
  end
  local function asp_run(cmdline, opts)
    opts = opts or {}
    opts.env = (opts.env or "") .. " " .. env
    return run(cmdline, opts)
  end

  describe("usage", function()
    it("--help on the program, each noun and each command exits 0", function()
      local top = asp_ok("--help")
      assert.truthy(top.out:find("processors apply", 1, true))
      assert.truthy(top.out:find("Exit codes", 1, true))
      assert.truthy(asp_ok("processors --help").out:find("processors stats", 1, true))
      for _, cmd in ipairs({ "processors list", "processors describe", "processors create", "processors start",
                              "processors stop", "processors drop", "processors stats", "processors modify",
                              "processors apply", "sample", "process", "workspace defaults",
                              "connections list", "connections describe", "connections create",
                              "connections update", "connections delete", "privatelinks list",
                              "privatelinks describe", "privatelinks delete" }) do
        local r = asp_ok(cmd .. " --help")
        assert.truthy(r.out:find("usage: asp " .. cmd, 1, true), cmd)
        assert.truthy(r.out:find("--output", 1, true), cmd)
      end
    end)

    it("mistakes exit 2 with one line on stderr", function()
      for _, cmdline in ipairs({ "", "frobnicate", "processors", "processors frob", "processors list --bogus",
                                 "processors describe", "processors describe a b", "processors list -o xml",
                                 "sample x --limit many", "processors create x", "process" }) do
        local r = asp_run(cmdline)
        assert.equal(2, r.code, cmdline)
        if cmdline ~= "" then
          assert.equal(1, #r.errlines, cmdline .. ": " .. r.err)
          assert.truthy(r.errlines[1]:match("^asp: "), cmdline)
        end
        assert.equal("", r.out, cmdline)
      end
    end)

    it("without a URI anywhere it is a usage error", function()
      local r = run("processors list", { env = ("HOME=%s XDG_CONFIG_HOME= ASP_URI= ASP_CONFIG="):format(q(tmp)) })
      assert.equal(2, r.code)
      assert.truthy(r.err:find("no workspace URI", 1, true))
    end)
  end)

  describe("configuration", function()
    it("takes flags over the environment over the configuration file", function()
      local bad = server:uri_for(server.user, "wrong-password-in-file")
      local cfg = write("config.toml", ('# profiles\n[default]\nuri = "%s"\n\n[dev]\nuri = "%s"\noutput = "json"\n')
        :format(bad, server.uri))
      local base = ("HOME=%s XDG_CONFIG_HOME= ASP_CONFIG= "):format(q(tmp))
      -- the file's [dev] profile: its uri and its output format
      local r = ok("workspace defaults --config " .. q(cfg) .. " --profile dev", { env = base .. "ASP_URI=" })
      assert.equal("SP10", json(r).defaultTierSize)
      -- the [default] profile's wrong password fails (1), and is never printed
      r = run("workspace defaults --config " .. q(cfg), { env = base .. "ASP_URI=" })
      assert.equal(1, r.code)
      assert.equal(1, #r.errlines)
      assert.falsy(r.err:find("wrong-password-in-file", 1, true))
      -- the environment beats the file
      ok("workspace defaults --config " .. q(cfg), { env = base .. "ASP_URI=" .. q(server.uri) })
      -- a flag beats the environment
      r = run("workspace defaults --uri " .. q(bad), { env = base .. "ASP_URI=" .. q(server.uri) })
      assert.equal(1, r.code)
      -- ASP_CONFIG and ASP_PROFILE select the file and profile
      ok("workspace defaults", { env = base .. "ASP_URI= ASP_CONFIG=" .. q(cfg) .. " ASP_PROFILE=dev" })
      -- a missing profile or a malformed file is a usage error naming it
      r = run("workspace defaults --config " .. q(cfg) .. " --profile nope", { env = base })
      assert.equal(2, r.code)
      assert.truthy(r.err:find("[nope]", 1, true))
      local broken = write("broken.toml", "[default]\nusername = 'x'\n")
      r = run("workspace defaults --config " .. q(broken), { env = base })
      assert.equal(2, r.code)
      assert.truthy(r.err:find("broken.toml:2", 1, true))
    end)

    it("a wrong password is an operation error without the password", function()
      local r = asp_run("processors list --uri " .. q(server:uri_for(server.user, "hunter2-secret")))
      assert.equal(1, r.code)
      assert.equal(1, #r.errlines)
      assert.falsy(r.err:find("hunter2-secret", 1, true))
    end)
  end)

  describe("processors", function()
    it("create, list, describe, start, stats, sample, stop, modify, drop", function()
      local pfile = write("p.json", PIPELINE)
      local r = asp_ok("processors create cli1 -f " .. q(pfile))
      assert.equal("created processor cli1", r.lines[1])
      assert.equal(1, asp_run("processors create cli1 -f " .. q(pfile)).code) -- exists already

      r = asp_ok("processors list")
      assert.truthy(r.lines[1]:match("^NAME%s+STATE%s+TIER"))
      local found = false
      for _, l in ipairs(r.lines) do found = found or l:match("^cli1%s+CREATED%s") ~= nil end
      assert.is_true(found)
      local list = json(asp_ok("processors list -o json"))
      assert.equal("cli1", list[1].name)
      local jl = asp_ok("processors list -o jsonl")
      assert.equal(#list, #jl.lines)
      assert.equal("cli1", assert(asp.from_json(jl.lines[1])).name)
      -- every table line fits the terminal width
      for _, l in ipairs(asp_ok("processors list", { env = "COLUMNS=30" }).lines) do
        assert.is_true(#l <= 30, l)
      end

      local info = json(asp_ok("processors describe cli1 -o json"))
      assert.equal("cli1", info.name)
      assert.equal(2, #info.pipeline)
      assert.truthy(asp_ok("processors describe cli1").out:match("\nstate%s+CREATED\n"))
      assert.equal(1, asp_run("processors describe nope").code)

      r = asp_ok("processors start cli1 -o json")
      assert.equal("STARTED", json(r).state)
      local stats = json(asp_ok("processors stats cli1 -o json"))
      assert.equal("cli1", stats.name)
      assert.truthy(asp_ok("processors stats cli1 --verbose --scale 1024").out:find("outputMessageCount", 1, true))

      r = asp_ok("sample cli1 --limit 5 -o jsonl")
      assert.equal(5, #r.lines)
      for _, l in ipairs(r.lines) do
        local doc = assert(asp.from_json(l))
        assert.truthy(doc.device_id)
      end
      local arr = json(asp_ok("sample cli1 --limit 3 -o json"))
      assert.equal(3, #arr)

      assert.equal(1, asp_run("processors modify cli1 --tier SP30").code) -- running: refused
      assert.equal("STOPPED", json(asp_ok("processors stop cli1 -o json")).state)
      asp_ok("processors modify cli1 --tier SP30 -f " .. q(write("p3.json", PIPELINE3)))
      info = json(asp_ok("processors describe cli1 -o json"))
      assert.equal("SP30", info.tier)
      assert.equal(3, #info.pipeline)
      assert.equal(2, asp_run("processors modify cli1").code) -- nothing to modify

      -- drop asks; anything but yes keeps the processor
      r = asp_run("processors drop cli1", { stdin = "n\n" })
      assert.equal(1, r.code)
      assert.truthy(r.err:find("Drop stream processor cli1?", 1, true))
      asp_ok("processors describe cli1")
      asp_ok("processors drop cli1", { stdin = "yes\n" })
      assert.equal(1, asp_run("processors describe cli1").code)
      assert.equal(1, asp_run("processors drop cli1 --force").code)
    end)

    it("fits tables to the width of the terminal it prints on", function()
      if not (io.open("/usr/bin/script") or io.open("/bin/script")) then
        pending("no script(1) to give the command a terminal")
        return
      end
      asp_ok("processors create cli_wide -f " .. q(write("p.json", PIPELINE)))
      -- script(1) runs the command on a pseudo-terminal of 30 columns; COLUMNS is unset
      local inner = ("stty cols 30; %s COLUMNS= %s processors list"):format(env, CLI)
      local p = assert(io.popen("script -qec " .. q(inner) .. " /dev/null"))
      local out = p:read("*a")
      p:close()
      local lines = 0
      for l in out:gmatch("[^\r\n]+") do
        lines = lines + 1
        assert.is_true(#l <= 30, l)
      end
      assert.is_true(lines >= 2, out)
      assert.truthy(out:match("^NAME "), out)
      assert.truthy(out:find("\nc[l.]", 1), out) -- cli_wide, shortened with "..." to fit
      asp_ok("processors drop cli_wide --force")
    end)

    it("apply creates, leaves alone, then modifies and restarts to match the file", function()
      local def = write("def.json", ('{"name": "cli2", "pipeline": %s, "options": {"tier": "SP10"}}'):format(PIPELINE))
      assert.equal("created processor cli2", asp_ok("processors apply -f " .. q(def)).lines[1])
      local r = asp_ok("processors apply --start -f " .. q(def))
      assert.same({ "processor cli2 is up to date", "started processor cli2" }, r.lines)
      assert.equal("processor cli2 is up to date", asp_ok("processors apply -f " .. q(def)).lines[1])

      write("def.json", ('{"name": "cli2", "pipeline": %s, "options": {"tier": "SP30"}}'):format(PIPELINE3))
      r = asp_ok("processors apply -f " .. q(def))
      assert.same({ "modified processor cli2 (stopped and restarted)", "  pipeline: 2 stages -> 3 stages",
                    "  tier: SP10 -> SP30" }, r.lines)
      local info = json(asp_ok("processors describe cli2 -o json"))
      assert.equal(3, #info.pipeline)
      assert.equal("SP30", info.tier)
      assert.equal("STARTED", info.state)
      r = json(asp_ok("processors apply -o json -f " .. q(def)))
      assert.equal("unchanged", r.action)
      asp_ok("processors drop cli2 --force")

      assert.equal(1, asp_run("processors apply -f " .. q(tmp .. "/missing.json")).code)
      assert.equal(1, asp_run("processors apply -f " .. q(write("bad.json", '{"name": 1}'))).code)
    end)

    it("sample streams until Ctrl-C, closes, and exits 0 with complete JSON", function()
      asp_ok("processors create cli3 -f " .. q(write("p.json", PIPELINE)))
      asp_ok("processors start cli3")
      local out = tmp .. "/stream.json"
      -- Ctrl-C once the first document is out (so the stream is really running), however
      -- long the start takes on a loaded machine.
      local sh = ("%s %s sample cli3 -o json >%s 2>%s/stream.err & p=$!; "
        .. "for i in $(seq 1 300); do grep -qs '^{' %s && break; sleep 0.1; done; "
        .. "kill -INT $p; wait $p; echo $?"):format(env, CLI, q(out), q(tmp), q(out))
      local p = assert(io.popen(sh))
      local code = tonumber(p:read("*a"))
      p:close()
      assert.equal(0, code, slurp(tmp .. "/stream.err"))
      local docs = assert(asp.from_json(slurp(out)))
      assert.is_true(#docs > 0)
      asp_ok("processors drop cli3 --force")
    end)
  end)

  it("process streams an ephemeral pipeline", function()
    local f = write("proc.json", [=[[{"$source": {"documents": [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 4}]}},
      {"$addFields": {"b": {"$multiply": ["$a", 10]}}}]]=])
    local r = asp_ok("process -f " .. q(f) .. " --limit 3 -o jsonl")
    assert.equal(3, #r.lines)
    assert.equal(10, assert(asp.from_json(r.lines[1])).b)
    assert.equal(4, #json(asp_ok("process -f " .. q(f) .. " -o json")))
    assert.equal(1, asp_run("process -f " .. q(write("bad.json", "[{"))).code)
  end)

  describe("connections and privatelinks (Admin API)", function()
    local KEY = "0123456789abcdef01234567"

    it("need a project, a workspace and one credential pair (usage errors)", function()
      local base = "HOME=" .. q(tmp) .. " ASP_CONFIG= MONGODB_ATLAS_PUBLIC_KEY= MONGODB_ATLAS_PRIVATE_KEY= "
        .. "MONGODB_ATLAS_CLIENT_ID= MONGODB_ATLAS_CLIENT_SECRET= MONGODB_ATLAS_PROJECT_ID= ASP_WORKSPACE= "
        .. "MONGODB_ATLAS_PUBLIC_API_KEY= MONGODB_ATLAS_PRIVATE_API_KEY="
      for _, case in ipairs({
        { "connections list", "no project id" },
        { "connections list --project-id " .. KEY, "no workspace" },
        { "connections list --project-id " .. KEY .. " --workspace ws", "no Admin API credentials" },
        { "connections list --project-id " .. KEY .. " --workspace ws --public-key p", "both halves" },
        { "privatelinks list --project-id nothex --client-id c --client-secret s", "group_id" },
      }) do
        local r = run(case[1], { env = base })
        assert.equal(2, r.code, case[1])
        assert.truthy(r.err:find(case[2], 1, true), r.err)
      end
    end)

    it("report an unreachable Admin API as an operation error without the secret", function()
      local r = run("connections list --admin-url https://127.0.0.1:1 --project-id " .. KEY
        .. " --workspace ws --public-key pub --private-key", {
          env = "HOME=" .. q(tmp) .. " ASP_CONFIG= " .. "MONGODB_ATLAS_PRIVATE_KEY=s3cr3t-private-key" })
      assert.equal(2, r.code) -- --private-key without its value
      r = run("connections list --admin-url https://127.0.0.1:1 --project-id " .. KEY .. " --workspace ws", {
        env = "HOME=" .. q(tmp) .. " ASP_CONFIG= MONGODB_ATLAS_PUBLIC_KEY=pub MONGODB_ATLAS_PRIVATE_KEY=s3cr3t-private-key" })
      assert.equal(1, r.code)
      assert.equal(1, #r.errlines)
      assert.falsy(r.err:find("s3cr3t", 1, true))
    end)

    it("list, describe, create, update and delete connections on a live Admin API", function()
      if not server.admin_root then
        pending("this aspd prints no admin-api line (no Admin API served)")
        return
      end
      local aenv = ("ASP_ADMIN_URL=%s MONGODB_ATLAS_PROJECT_ID=%s ASP_WORKSPACE=%s ASP_TLS_CA_FILE=%s "
        .. "MONGODB_ATLAS_PUBLIC_KEY=%s MONGODB_ATLAS_PRIVATE_KEY=%s"):format(q(server.admin_root),
        q(server.group_id), q(server.workspace), q(server.ca_file), q(server.admin_public_key),
        q(server.admin_private_key))
      local function a_ok(cmd, opts)
        opts = opts or {}
        opts.env = aenv
        return asp_ok(cmd, opts)
      end
      local function a_run(cmd, opts)
        opts = opts or {}
        opts.env = (opts.env or "") .. " " .. aenv
        return asp_run(cmd, opts)
      end
      assert.truthy(a_ok("connections list").out:find("fast_solar", 1, true))
      -- the admin-api line alone names server, project and workspace
      assert.truthy(asp_ok("connections list", { env = ("ASP_ADMIN_URL=%s ASP_TLS_CA_FILE=%s MONGODB_ATLAS_PUBLIC_KEY=%s "
        .. "MONGODB_ATLAS_PRIVATE_KEY=%s MONGODB_ATLAS_PROJECT_ID= ASP_WORKSPACE="):format(q(server.admin_url),
        q(server.ca_file), q(server.admin_public_key), q(server.admin_private_key)) }).out:find("fast_solar", 1, true))
      local conn = write("kafka.json", '{"type": "Kafka", "bootstrapServers": "localhost:9092", '
        .. '"authentication": {"mechanism": "PLAIN", "username": "u", "password": "kafka-pw-secret"}, '
        .. '"security": {"protocol": "SASL_SSL"}}')
      assert.equal("created connection cli_k", a_ok("connections create cli_k -f " .. q(conn)).lines[1])
      local found
      for _, l in ipairs(a_ok("connections list -o jsonl").lines) do
        local c = assert(asp.from_json(l))
        if c.name == "cli_k" then found = c end
      end
      assert.equal("Kafka", found.type)
      local d = json(a_ok("connections describe cli_k -o json"))
      assert.equal("localhost:9092", d.bootstrapServers)
      assert.falsy(a_ok("connections describe cli_k").out:find("kafka-pw-secret", 1, true))
      local upd = write("kafka2.json", '{"type": "Kafka", "bootstrapServers": "otherhost:9092"}')
      assert.equal("otherhost:9092", json(a_ok("connections update cli_k -o json -f " .. q(upd))).bootstrapServers)
      assert.equal(1, a_run("connections delete cli_k", { stdin = "no\n" }).code)
      a_ok("connections describe cli_k")
      a_ok("connections delete cli_k --force")
      assert.equal(1, a_run("connections describe cli_k").code)
      -- a wrong private key: refused, and never printed
      local r = a_run("connections list --private-key wrong-private-key-value")
      assert.equal(1, r.code)
      assert.falsy(r.err:find("wrong-private-key-value", 1, true))
      -- Private Link: one made through asp.admin is listed, described and deleted by the CLI
      local admin = assert(server:admin())
      local link = assert(admin:create_private_link {
        provider = "AWS", vendor = "CONFLUENT", region = "us-east-1",
        serviceEndpointId = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
        dnsDomain = "cli.us-east-1.aws.confluent.cloud", dnsSubDomain = asp.array {} })
      local listed = json(a_ok("privatelinks list -o json"))
      assert.equal(1, #listed)
      assert.equal(link._id, listed[1]._id)
      assert.truthy(a_ok("privatelinks list").out:find(link._id, 1, true))
      assert.equal("cli.us-east-1.aws.confluent.cloud",
        json(a_ok("privatelinks describe " .. link._id .. " -o json")).dnsDomain)
      assert.equal(1, a_run("privatelinks delete " .. link._id, { stdin = "no\n" }).code)
      a_ok("privatelinks describe " .. link._id)
      a_ok("privatelinks delete " .. link._id .. " --force")
      assert.equal(1, a_run("privatelinks describe " .. link._id).code)
      assert.equal(0, #json(a_ok("privatelinks list -o json")))
    end)
  end)

  it("workspace defaults", function()
    assert.equal("SP10", json(asp_ok("workspace defaults -o json")).defaultTierSize)
    assert.truthy(asp_ok("workspace defaults").out:match("defaultTierSize%s+SP10"))
  end)
end)
