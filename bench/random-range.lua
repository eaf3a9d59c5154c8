-- wrk script: GET random aligned-to-nothing ranges of RANGE_SIZE bytes of a FILE_SIZE file.
local size = tonumber(os.getenv("FILE_SIZE"))
local chunk = tonumber(os.getenv("RANGE_SIZE"))
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(seed * 7919)
end

request = function()
  local start = math.random(0, size - chunk)
  return wrk.format("GET", nil, { ["Range"] = "bytes=" .. start .. "-" .. (start + chunk - 1) })
end

-- Any answer other than 206 is an error for this workload.
response = function(status, headers, body)
  if status ~= 206 then
    error("unexpected status " .. status)
  end
end
