console.log("catalog: placeholder until builder lands")
