-- Loaded by busted before every spec file (see spec/CMakeLists.txt).
-- Collect garbage after each test so finalizer bugs show up close to their cause.
local busted = require "busted"
busted.after_each(function() collectgarbage() collectgarbage() end)
