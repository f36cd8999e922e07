-- Stops (SIGSTOP) or continues (SIGCONT) a process and waits until the kernel shows it so:
-- a stop reaches each thread of the process only as that thread is next scheduled, so a
-- test that freezes a server must not race its first request against the signal.
local core = require "asp.core"

local M = {}

--- want: true to wait until every thread is stopped, false until none is.
function M.send(pid, sig, want)
  assert(os.execute("kill -" .. sig .. " " .. pid))
  for _ = 1, 500 do
    local p = assert(io.popen("cat /proc/" .. pid .. "/task/*/stat 2>/dev/null"))
    local all, any = true, false
    for line in p:lines() do
      local stopped = line:match("^.-%) (%a)") == "T"
      all, any = all and stopped, any or stopped
    end
    p:close()
    if (want and all) or (not want and not any) then return end
    core.sleep(0.01)
  end
  error("process " .. pid .. " did not reach the " .. sig .. " state")
end

function M.freeze(pid) M.send(pid, "STOP", true) end

function M.thaw(pid) M.send(pid, "CONT", false) end

return M
